#pragma once
// Output files written atomically: a temporary file in the same directory, flushed and fsync'd,
// then rename(2), so a reader (or a crash) never sees a half-written file. CSV and JSON on top.
// Everything here throws snode::InputError naming the path.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace snode {

// Creates dir (and parents). Throws InputError if that fails.
void EnsureDirectory(const std::string& dir);
// An app's output directory before any work: creates dir (and parents), then creates, writes,
// fsyncs and removes a probe file in it, so a directory the run could not write its results to
// (read-only, /proc/self, full) fails at once instead of after the work. Throws InputError
// "<flag> '<dir>': cannot write there (<reason>)".
void PrepareOutputDirectory(const std::string& dir, const std::string& flag = "--out");
// Writes content to path atomically: path.tmp.<pid> in the same directory, flushed, renamed over
// path. Throws InputError naming the path on failure.
void AtomicWriteFile(const std::string& path, const std::string& content);
// Quotes a CSV field when it holds a comma, quote or newline.
std::string CsvEscape(const std::string& field);
// Writes header + rows as CSV (atomically).
void WriteCsv(const std::string& path, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows);
// Writes value as indented JSON (atomically). NaN/Inf become null (JSON has no such numbers).
void WriteJson(const std::string& path, const nlohmann::json& value);
// A JSON number, or null when x is not finite.
nlohmann::json JsonNumber(double x);

}  // namespace snode
