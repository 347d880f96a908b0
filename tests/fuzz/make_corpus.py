#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Small valid and invalid inputs per reader (a few kB in all); the fuzzers mutate from there.
Run again after a format change: python3 tests/fuzz/make_corpus.py
"""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ---- IDX (big-endian header; see io/idx_reader.hpp) ----
def idx_images(count, rows, cols, magic=0x803, extra=0):
    pixels = bytes((k * 37) % 256 for k in range(count * rows * cols + extra))
    return struct.pack(">IIII", magic, count, rows, cols) + pixels


def idx_labels(labels, magic=0x801):
    return struct.pack(">II", magic, len(labels)) + bytes(labels)


write("idx_reader", "images_valid", idx_images(2, 3, 2))
write("idx_reader", "images_valid.gz", gzip.compress(idx_images(3, 4, 4), mtime=0))
write("idx_reader", "images_truncated", idx_images(5, 3, 2)[:30])
write("idx_reader", "images_trailing", idx_images(1, 2, 2, extra=3))
write("idx_reader", "images_zero_side", idx_images(1, 0, 2))
write("idx_reader", "images_huge_count", struct.pack(">IIII", 0x803, 0xFFFFFFFF, 28, 28))
write("idx_reader", "images_huge_pixels.gz",
      gzip.compress(struct.pack(">IIII", 0x803, 9, 4096, 4096), mtime=0))
write("idx_reader", "labels_valid", idx_labels([0, 1, 2, 9, 5]))
write("idx_reader", "labels_valid.gz", gzip.compress(idx_labels([3, 1, 4, 1, 5, 9]), mtime=0))
write("idx_reader", "labels_out_of_range", idx_labels([1, 200]))
write("idx_reader", "header_short", struct.pack(">I", 0x803)[:3])
write("idx_reader", "gzip_truncated", gzip.compress(idx_labels(list(range(10)) * 4), mtime=0)[:20])
write("idx_reader", "wrong_magic", struct.pack(">II", 0x12345678, 0))


# ---- checkpoint (little-endian; see docs/file-formats.md, "snode checkpoint") ----
def s(text):
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def block(name, values):
    return s(name) + struct.pack("<Q", len(values)) + b"".join(struct.pack("<d", v) for v in values)


def body(architecture="mlp 2-3-1", params=((("w"), [0.5, -1.0, 2.0]), ("b", [0.0])),
         optimizer="adam", state=(("m", [0.1]), ("v", [0.2])), metadata=(("seed", "1"),),
         rng="12 34 56"):
    out = s(architecture) + struct.pack("<QQ", 3, 7) + s(rng)
    out += struct.pack("<I", len(metadata)) + b"".join(s(k) + s(v) for k, v in metadata)
    out += struct.pack("<I", len(params)) + b"".join(block(n, v) for n, v in params)
    out += s(optimizer) + struct.pack("<Q", 42)
    out += struct.pack("<I", len(state)) + b"".join(block(n, v) for n, v in state)
    return out


def image(payload, version=1):
    head = b"SNODECKP" + struct.pack("<IIQ", version, 0, len(payload)) + payload
    return head + struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF)


# First byte: 0 = a whole file image, 1 = a body that the target wraps in header + checksum.
valid = image(body())
write("checkpoint", "image_valid", b"\x00" + valid)
write("checkpoint", "image_empty_model", b"\x00" + image(body(params=(), state=(), optimizer="",
                                                              metadata=())))
write("checkpoint", "image_bad_version", b"\x00" + image(body(), version=2))
write("checkpoint", "image_bad_checksum", b"\x00" + valid[:-1] + bytes([valid[-1] ^ 1]))
write("checkpoint", "image_truncated", b"\x00" + valid[:40])
write("checkpoint", "image_wrong_magic", b"\x00" + b"NOTACKPT" + valid[8:])
write("checkpoint", "body_valid", b"\x01" + body())
write("checkpoint", "body_nan", b"\x01" + body(params=(("w", [float("nan")]),)))
write("checkpoint", "body_huge_block", b"\x01" + s("a") + struct.pack("<QQ", 0, 0) + s("") +
      struct.pack("<II", 0, 1) + s("w") + struct.pack("<Q", 1 << 60))
write("checkpoint", "body_trailing", b"\x01" + body() + b"\x00\x00")
# A training checkpoint as the MNIST trainer writes one (m./v. blocks per parameter block, an
# mt19937_64 state, the position metadata), so mutations reach ValidateTrainingCheckpoint.
RNG = " ".join(str(k * 7919) for k in range(1, 313)) + " 312"
TRAINING = dict(params=(("w", [0.5, -1.0]), ("b", [0.25])),
                state=(("m.w", [0.1, 0.2]), ("m.b", [0.0]), ("v.w", [0.01, 0.04]), ("v.b", [0.0])),
                metadata=(("epoch_batches_done", "5"), ("epoch_skipped", "1"),
                          ("epoch_loss_sum", "0x1.8p+1"), ("epoch_seconds", "0.5"),
                          ("history", '[{"epoch":1},{"epoch":2},{"epoch":3,"skipped_batches":0}]')))
write("checkpoint", "body_training", b"\x01" + body(rng=RNG, **TRAINING))

# ---- options file (Boost program_options config syntax) ----
write("options_file", "valid", b"integrator = dopri5\ngradient = bptt\nrtol = 1e-6\n"
      b"atol = 1e-8\nseed = 3\nepochs = 2\nlr = 0.01\ntimes = 0,0.5,1\n")
write("options_file", "comments_and_section", b"# comment\n[section]\nfoo = 1\n\nquiet = true\n")
write("options_file", "unknown_option", b"no-such-option = 1\n")
write("options_file", "bad_number", b"rtol = abc\nmax-steps = 1e99\n")
write("options_file", "negative_tolerance", b"rtol = -1\n")
write("options_file", "unknown_integrator", b"integrator = nope\n")
write("options_file", "missing_value", b"integrator\n=\n= x\n")
write("options_file", "duplicate", b"seed = 1\nseed = 2\nhelp = yes\n")
write("options_file", "bad_times", b"times = 1,,x\nlinear-solver = gmres\nstep = 0.1\n")

# ---- command lines (tests/fuzz/cli_fuzz.cpp): byte 0 = app, argv words split at '\n',
# after a NUL byte the --config file ----
APPS = {"exponential_decay": 0, "lotka_volterra": 1, "mnist_classifier": 2, "stiffness_study": 3}


def cli(app, words, config=None):
    data = bytes([APPS[app]]) + "\n".join(words).encode()
    if config is not None:
        data += b"\0" + config.encode()
    return data


write("cli", "decay_default", cli("exponential_decay", []))
write("cli", "decay_flags", cli("exponential_decay", ["--lambdas", "100,1e4", "--rtol", "1e-7",
                                                      "--max-steps", "500", "--no-plots"]))
write("cli", "decay_config", cli("exponential_decay", ["--bench", "3"], "ok-tol = 1e-4\nrtol = 1e-400\n"))
write("cli", "decay_method_flag", cli("exponential_decay", ["--gradient", "backsolve_adjoint",
                                                            "--seminorm", "off"]))
write("cli", "lv_discover", cli("lotka_volterra", ["--mode", "discover", "--optimizer", "adam",
                                                   "--lr", "0.05", "--horizons", "2,4"]))
write("cli", "lv_neural", cli("lotka_volterra", ["--mode", "neural", "--iterations", "3",
                                                 "--lr", "1e-2", "--t-end", "5", "--points", "51"]))
write("cli", "lv_bad", cli("lotka_volterra", ["--mode", "discover", "--lr", "-1", "--noise", "1e300",
                                              "--horizons", "1e-9"]))
write("cli", "lv_ude", cli("lotka_volterra", ["--mode", "ude", "--ude-noisy", "true"],
                           "iterations = 0\noptimizer = sgd\n"))
write("cli", "mnist_train", cli("mnist_classifier", ["--epochs", "2", "--batch", "64", "--lr", "1e-3",
                                                     "--hidden", "32", "--threads", "2"]))
write("cli", "mnist_eval", cli("mnist_classifier", ["--evaluate", "model.snode", "--epochs", "3"]))
write("cli", "mnist_resume", cli("mnist_classifier", ["--resume", "/dev/zero", "--lr-schedule",
                                                      "cosine"]))
write("cli", "study_quick", cli("stiffness_study", ["--preset", "quick", "--problems", "w1,vdp",
                                                    "--lambdas", "1e1:1e5"]))
write("cli", "study_methods", cli("stiffness_study", ["--methods", "bptt/sdirk,cvodes_adjoint/cvodes_bdf",
                                                      "--tolerances", "1e-6,1e-8", "--threads", "2"]))
write("cli", "study_bad", cli("stiffness_study", ["--lambda-max", "1e300", "--train", "maybe",
                                                  "--neural-lr", "0"], "ok-tol = 0\n"))
# Found by the CLI fuzzer: one --horizons entry made the "must increase" message read
# horizons[-1] (undefined behaviour under UBSan).
write("cli", "lv_single_horizon_regression", cli("lotka_volterra", ["--mode", "discover", "--lr", "-1",
                                                                    "--noise", "1e300", "--horizons", "1e-9"]))
# Found by the CLI fuzzer: Boost's message loop never ended on a word holding its own placeholder.
write("cli", "placeholder_regression", cli("stiffness_study", ["--lambda-max%original_token%", "1e300",
                                                               "--rtol", "%value%"]))
write("cli", "help", cli("stiffness_study", ["--help", "--list-integrators"]))
