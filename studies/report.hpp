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
// text on one line (newlines as spaces), cut to width characters ending in "..." when longer.
std::string Shorten(const std::string& text, std::size_t width);
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

// The spread of a timing over repetitions (the apps' bench statistics), for bench tables.
struct TimeSpread {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
};
// The three cells "time/gradient", "min", "max" of a bench table (FormatSeconds).
std::vector<std::string> TimeCells(const TimeSpread& spread);

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

// A gnuplot single-quoted string (enhanced text is interpreted inside it): ' doubled.
std::string GnuplotQuote(const std::string& text);
// Escapes the enhanced-text markup characters of plain text (method names hold '_').
std::string GnuplotEscape(const std::string& text);
// Line style of the i-th series of a plot: distinct colour, point type and dash, so overlapping
// lines stay readable ("lw 1.6 ps 1.1 pt … dt … lc rgb '#…'").
std::string GnuplotSeriesStyle(std::size_t i);

// One panel of a reconstruction plot: the exact decay e^{−λt} on t ∈ [0, 1] (101 points) and the
// |state component 0| a backward pass reconstructed (points where it is finite and positive).
struct ReconstructionPanel {
  double lambda = 0.0;
  std::string exact_comment;          // comment line of the exact data block (without "# ")
  std::string reconstructed_comment;  // comment line of the reconstructed data block
  std::string label;  // key of the reconstructed curve (gnuplot enhanced text); the plot appends
                      // ", non-finite below t = …" when the reconstruction stopped early
  std::vector<double> times;   // t of the reconstructed points, decreasing
  std::vector<double> values;  // the reconstructed state component 0 at times
  bool complete = false;       // the reconstruction reached t = 0
};
// Writes <dir>/<name>.dat (two data blocks per panel) and renders one row of log-y panels under
// `title` (gnuplot enhanced text) with `ylabel`, each titled "λ = …".
PlotResult PlotReconstructionPanels(const std::string& dir, const std::string& name,
                                    const std::string& title, const std::string& ylabel,
                                    const std::vector<ReconstructionPanel>& panels, int width,
                                    int height);

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
