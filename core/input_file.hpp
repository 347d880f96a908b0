#pragma once
// Reading an input file with a bound. Every reader of a user's file (options files, tableau and
// problem files, weights, checkpoints) first asks what the path is and then reads at most one
// byte more than its documented limit, so a device or a pipe (/dev/zero, /dev/stdin, a FIFO) is
// refused instead of blocking or being read forever, and a file over the limit is refused without
// trusting the size on disk. Callers word their own messages.

#include <cstddef>
#include <string>

namespace snode {

enum class InputFileKind { kMissing, kDirectory, kNotRegular, kRegular };

// What path is (following symlinks); kNotRegular for devices, pipes and sockets.
InputFileKind KindOfInputFile(const std::string& path);

// Up to max_bytes + 1 bytes from the start of path, read in binary. The result is longer than
// max_bytes exactly when the file is over the limit. Throws InputError "<what>: cannot open: …" /
// "<what>: read error" on failure. Call it only for kRegular paths (opening a FIFO blocks).
std::string ReadInputFilePrefix(const std::string& path, std::size_t max_bytes,
                                const std::string& what);

}  // namespace snode
