"""An SMTP server on 127.0.0.1 that stores every message it receives.

Usage: smtp_sink.py PORT DIRECTORY [--starttls CERT KEY | --tls CERT KEY] [--auth USER:PASSWORD]

Each message is written to DIRECTORY/NNNN.eml (written to a temporary name first, then renamed,
so a reader never sees half a message). With --starttls the server requires STARTTLS before
mail; with --tls it speaks TLS from the first byte. With --auth it requires AUTH PLAIN or LOGIN
with these credentials, over TLS only. Prints "ready" once it listens, and runs until it is
terminated.
"""

import argparse
import itertools
import pathlib
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


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


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        valid = auth_data.login == user.encode() and auth_data.password == password.encode()
        # handled=False makes aiosmtpd answer a failure with 535 itself.
        return AuthResult(success=valid, handled=False)

    return authenticate


def tls_context(certificate, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("directory", type=pathlib.Path)
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)

    options = {}
    if args.starttls:
        options.update(tls_context=tls_context(*args.starttls), require_starttls=True)
    if args.tls:
        options.update(ssl_context=tls_context(*args.tls))
    if args.auth:
        user, password = args.auth.split(":", 1)
        # aiosmtpd 1.4 counts only STARTTLS as TLS for auth_require_tls, so with implicit TLS
        # the check is left off; the connection is encrypted from the first byte anyway.
        options.update(authenticator=authenticator_for(user, password), auth_required=True, auth_require_tls=not args.tls)
    controller = Controller(Sink(args.directory), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
