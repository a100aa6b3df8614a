"""An SMTP server on 127.0.0.1 that stores every message it receives.

Usage: smtp_sink.py PORT DIRECTORY. Each message is written to DIRECTORY/NNNN.eml (written to a
temporary name first, then renamed, so a reader never sees half a message). Prints "ready" once
it listens, and runs until it is terminated.
"""

import itertools
import pathlib
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        number = next(self.counter)
        temporary = self.directory / f"{number:04d}.tmp"
        temporary.write_bytes(envelope.original_content or envelope.content)
        temporary.rename(self.directory / f"{number:04d}.eml")
        return "250 Message accepted"


def main():
    port = int(sys.argv[1])
    directory = pathlib.Path(sys.argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
