#pragma once
// Terminal and figure output of the studies: number formatting, fixed-width tables, gnuplot
// figures (PNG and SVG, the data kept beside them) and a one-line progress display.

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace snode {

// ---------------------------------------------------------------- formatting and tables
// Formats x in %.*g (non-finite as "nan", "inf", "-inf").
std::string FormatNumber(double x, int precision = 3);
// Formats x in %.*g, with a compact exponent where %g would use one or |x| < 0.01:
// 100, 0.5, 1e4, 1e-3, 3.39e3.
std::string FormatCompact(double x, int precision = 3);
// Formats x in %.*e.
std::string FormatScientific(double x, int precision = 2);
// Seconds as "12.3 ms" / "1.23 s".
std::string FormatSeconds(double seconds);
// Bytes as "512 B" / "1.2 kB" / "3.4 MB".
std::string FormatBytes(double bytes);

// A fixed-width text table: columns sized to their widest cell, numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  // Adds a row; throws ConfigError if its length differs from the header's.
  void AddRow(std::vector<std::string> row);
  // Adds a full-width separator line (e.g. between groups).
  void AddSeparator();
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a separator
};

// ---------------------------------------------------------------- plots
struct PlotResult {
  bool rendered = false;           // gnuplot ran and produced both images
  std::vector<std::string> files;  // the images written (PNG, SVG)
  std::string note;                // a one-line explanation when not rendered
};

// True when a gnuplot executable is on PATH.
bool GnuplotAvailable();

// Writes <dir>/<name>.gp containing `body` (gnuplot commands that plot data files; the caller
// writes those, paths relative to dir) wrapped in terminal/output settings, and runs gnuplot in
// dir twice: PNG (pngcairo, falling back to png) then SVG. Never throws for a missing gnuplot or
// a failed render: the result's note says what happened.
PlotResult RenderGnuplot(const std::string& dir, const std::string& name, const std::string& body,
                         int width = 800, int height = 560);

// ---------------------------------------------------------------- progress
// One refreshed status line "label  it 12/50  loss 1.23e-02  NFE 3456  elapsed 1.2 s  ETA 3.4 s"
// on stdout, only when stdout is a terminal and quiet is false. Finish() ends the line.
class ProgressLine {
 public:
  ProgressLine(std::string label, long total_iterations, bool quiet);
  ~ProgressLine();
  void Update(long iteration, double loss, long nfe);
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  long total_;
  bool enabled_;
  bool open_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace snode
