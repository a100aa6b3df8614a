//! Runs the body of the upload fuzz target on stable Rust: every file of the rejected-upload
//! corpus and of the fuzz corpus, then pseudo-random mutations of them. libFuzzer explores far
//! more (`cargo +nightly fuzz run upload`); this keeps the same checks in every test run.

use std::path::{Path, PathBuf};

use certkeeper_pki::upload::fuzz_upload;

/// Mutations run per test; each is one call of the fuzz body.
const MUTATIONS: usize = 3000;

/// Seed of the mutation generator, fixed so that a failure repeats.
const SEED: u64 = 0x005E_ED0F_CE27_4EE9;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Returns the seed inputs: each corpus case as certificate, 0xFF, key, 0xFF, password, and
/// each file of `fuzz/corpus/upload`.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let cases = workspace().join("crates/certkeeper-api/tests/corpus/upload");
    let mut directories: Vec<PathBuf> = std::fs::read_dir(&cases).unwrap().map(|entry| entry.unwrap().path()).filter(|path| path.is_dir()).collect();
    directories.sort();
    for case in directories {
        let read = |name: &str| std::fs::read(case.join(name)).unwrap_or_default();
        let mut input = read("certificate");
        input.push(0xFF);
        input.extend(read("key"));
        input.push(0xFF);
        input.extend(read("password"));
        seeds.push(input);
    }
    if let Ok(entries) = std::fs::read_dir(workspace().join("fuzz/corpus/upload")) {
        let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        files.sort();
        seeds.extend(files.iter().map(|file| std::fs::read(file).unwrap()));
    }
    seeds
}

/// xorshift64*, enough to spread mutations.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Applies one to four byte-level edits: flip, insert, delete, duplicate a span, or cut.
fn mutate(input: &[u8], random: &mut Random) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=random.below(4) {
        let at = random.below(data.len());
        match random.below(5) {
            0 if !data.is_empty() => data[at] ^= 1 << random.below(8),
            1 => data.insert(at.min(data.len()), random.next() as u8),
            2 if !data.is_empty() => {
                data.remove(at);
            }
            3 if !data.is_empty() => {
                let end = (at + random.below(64)).min(data.len());
                let span = data[at..end].to_vec();
                data.splice(at..at, span);
            }
            _ => data.truncate(at),
        }
    }
    data
}

#[test]
fn corpus_replays_without_panic() {
    let seeds = seeds();
    assert!(seeds.len() >= 60, "{} seeds", seeds.len());
    for seed in &seeds {
        fuzz_upload(seed);
    }
}

#[test]
fn random_mutations_without_panic() {
    // Mutating the megabyte-sized cases is slow without adding coverage, so they are skipped.
    let seeds: Vec<Vec<u8>> = seeds().into_iter().filter(|seed| seed.len() < 64 * 1024).collect();
    let mut random = Random(SEED);
    for _ in 0..MUTATIONS {
        let seed = &seeds[random.below(seeds.len())];
        fuzz_upload(&mutate(seed, &mut random));
    }
}
