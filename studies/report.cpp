#include "studies/report.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/errors.hpp"
#include "io/files.hpp"

namespace snode {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- formatting and tables

std::string FormatNumber(double x, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", precision, x);
  return buffer;
}

std::string FormatCompact(double x, int precision) {
  if (!std::isfinite(x) || x == 0.0) return FormatNumber(x, precision);
  std::string text = FormatNumber(x, precision);
  if (text.find('e') == std::string::npos && std::abs(x) >= 1e-2) return text;  // 100, 0.5
  // Exponent form with a trimmed mantissa and no '+' or leading zeros: 1e-3, 3.39e3, 1e4.
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*e", std::max(0, precision - 1), x);
  text = buffer;
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + "e" + std::to_string(std::atoi(text.c_str() + e + 1));
}

std::string FormatScientific(double x, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*e", precision, x);
  return buffer;
}

std::string Shorten(const std::string& text, std::size_t width) {
  std::string one_line = text;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');
  if (one_line.size() <= width) return one_line;
  return one_line.substr(0, width - 3) + "...";
}

std::string FormatSeconds(double seconds) {
  char buffer[64];
  if (!std::isfinite(seconds)) return "-";
  if (seconds < 1e-3) {
    std::snprintf(buffer, sizeof buffer, "%.0f us", seconds * 1e6);
  } else if (seconds < 1.0) {
    std::snprintf(buffer, sizeof buffer, "%.1f ms", seconds * 1e3);
  } else if (seconds < 120.0) {
    std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f min", seconds / 60.0);
  }
  return buffer;
}

std::string FormatBytes(double bytes) {
  char buffer[64];
  if (!std::isfinite(bytes)) return "-";
  if (bytes < 1e3) {
    std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
  } else if (bytes < 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.1f kB", bytes / 1e3);
  } else if (bytes < 1e9) {
    std::snprintf(buffer, sizeof buffer, "%.1f MB", bytes / 1e6);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f GB", bytes / 1e9);
  }
  return buffer;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {
  Require(!header_.empty(), "Table: empty header");
}

void Table::AddRow(std::vector<std::string> row) {
  Require(row.size() == header_.size(), "Table: row has " + std::to_string(row.size()) +
                                            " cells, header " + std::to_string(header_.size()));
  rows_.push_back(std::move(row));
}

void Table::AddSeparator() { rows_.emplace_back(); }

std::vector<std::string> TimeCells(const TimeSpread& spread) {
  return {FormatSeconds(spread.median), FormatSeconds(spread.min), FormatSeconds(spread.max)};
}

namespace {

bool LooksNumeric(const std::string& cell) {
  if (cell.empty()) return false;
  if (cell == "nan" || cell == "inf" || cell == "-inf" || cell == "-") return true;
  const char c = cell[0];
  return (c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && cell.size() > 1);
}

// Display width in code points (cells may hold UTF-8 such as λ or θ).
std::size_t DisplayWidth(const std::string& text) {
  std::size_t width = 0;
  for (const unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> widths(header_.size());
  for (std::size_t j = 0; j < header_.size(); ++j) widths[j] = DisplayWidth(header_[j]);
  for (const auto& row : rows_) {
    for (std::size_t j = 0; j < row.size(); ++j) {
      widths[j] = std::max(widths[j], DisplayWidth(row[j]));
    }
  }
  std::size_t total = 0;
  for (const std::size_t w : widths) total += w + 2;
  auto print_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (std::size_t j = 0; j < row.size(); ++j) {
      const std::size_t pad = widths[j] - DisplayWidth(row[j]);
      const bool last = j + 1 == row.size();
      const bool right = !header && j > 0 && LooksNumeric(row[j]);
      if (right)
        line += std::string(pad, ' ') + row[j];
      else
        line += row[j] + (last ? "" : std::string(pad, ' '));
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(header_, true);
  out << std::string(total > 2 ? total - 2 : total, '-') << "\n";
  for (const auto& row : rows_) {
    if (row.empty()) {
      out << "\n";
    } else {
      print_row(row, false);
    }
  }
}

// ---------------------------------------------------------------- plots

namespace {

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
}

std::string GnuplotExecutable() {
  // SNODE_GNUPLOT overrides the lookup ("none" behaves as if gnuplot were absent).
  if (const char* forced = std::getenv("SNODE_GNUPLOT")) {
    const std::string value = forced;
    if (value == "none" || value.empty()) return "";
    return ::access(value.c_str(), X_OK) == 0 ? value : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool NonEmptyFile(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && fs::file_size(path, error) > 0 && !error;
}

// Runs gnuplot in dir with the given terminal; true when output exists and is non-empty.
bool RunGnuplot(const std::string& exe, const std::string& dir, const std::string& script,
                const std::string& terminal, const std::string& output, const std::string& log) {
  std::error_code ignored;
  fs::remove(fs::path(dir) / output, ignored);
  const std::string setup = "set terminal " + terminal + "; set output '" + output + "'";
  const std::string command = "cd " + ShellQuote(dir) + " && " + ShellQuote(exe) + " -e " +
                              ShellQuote(setup) + " " + ShellQuote(script) + " >>" +
                              ShellQuote(log) + " 2>&1";
  const int status = std::system(command.c_str());
  return status == 0 && NonEmptyFile(fs::path(dir) / output);
}

}  // namespace

bool GnuplotAvailable() { return !GnuplotExecutable().empty(); }

PlotResult RenderGnuplot(const std::string& dir, const std::string& name, const std::string& body,
                         int width, int height) {
  PlotResult result;
  EnsureDirectory(dir);
  const std::string script = name + ".gp";
  AtomicWriteFile((fs::path(dir) / script).string(),
                  "# Rendered by snode: gnuplot -e \"set terminal pngcairo; set output '" + name +
                      ".png'\" " + script + "\n" + body + "\n");
  const std::string exe = GnuplotExecutable();
  if (exe.empty()) {
    result.note = "gnuplot not found: kept " + script + " and its data in " + dir +
                  " (install gnuplot and run `gnuplot " + script + "` there)";
    return result;
  }
  const std::string log = name + ".gnuplot.log";
  std::error_code ignored;
  fs::remove(fs::path(dir) / log, ignored);
  const std::string size = " size " + std::to_string(width) + "," + std::to_string(height);
  const std::string png = name + ".png", svg = name + ".svg";
  bool png_ok = RunGnuplot(exe, dir, script, "pngcairo enhanced font 'Sans,10'" + size, png, log);
  if (!png_ok) png_ok = RunGnuplot(exe, dir, script, "png" + size, png, log);
  const bool svg_ok = RunGnuplot(exe, dir, script, "svg enhanced font 'Sans,10'" + size, svg, log);
  if (png_ok) result.files.push_back((fs::path(dir) / png).string());
  if (svg_ok) result.files.push_back((fs::path(dir) / svg).string());
  result.rendered = png_ok && svg_ok;
  if (result.rendered) {
    fs::remove(fs::path(dir) / log, ignored);
  } else {
    result.note = "gnuplot failed to render " + name + (png_ok ? ".svg" : ".png") + " (see " +
                  (fs::path(dir) / log).string() + "); data kept";
  }
  return result;
}

std::string GnuplotQuote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'')
      quoted += "''";
    else
      quoted += c;
  }
  return quoted + "'";
}

std::string GnuplotEscape(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '_' || c == '^' || c == '{' || c == '}' || c == '@' || c == '&' || c == '~') {
      escaped += '\\';
    }
    escaped += c;
  }
  return escaped;
}

std::string GnuplotSeriesStyle(std::size_t i) {
  static const char* const kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                                        "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2182b",
                                        "#000000", "#35978f", "#8c510a", "#762a83"};
  return "lw 1.6 ps 1.1 pt " + std::to_string(1 + i % 13) + " dt " + std::to_string(1 + i % 5) +
         " lc rgb '" + kColors[i % 14] + "'";
}

namespace {

void WritePanelData(const ReconstructionPanel& panel, std::ostream& data) {
  // Values below 1e-300 are left out: gnuplot's log axis refuses subnormal numbers (a decay
  // solved accurately to t = 1 at λ = 1e4 ends at 5e-324).
  data << "# " << panel.exact_comment << "\n";
  for (int k = 0; k <= 100; ++k) {
    const double t = k / 100.0;
    const double z = std::exp(-panel.lambda * t);
    if (z > 1e-300) data << t << " " << FormatNumber(z, 10) << "\n";
  }
  data << "\n\n# " << panel.reconstructed_comment << "\n";
  for (std::size_t k = 0; k < panel.times.size() && k < panel.values.size(); ++k) {
    const double z = std::abs(panel.values[k]);
    if (std::isfinite(z) && z > 1e-300) {
      data << panel.times[k] << " " << FormatNumber(z, 10) << "\n";
    }
  }
  data << "\n\n";
}

}  // namespace

PlotResult PlotReconstructionPanels(const std::string& dir, const std::string& name,
                                    const std::string& title, const std::string& ylabel,
                                    const std::vector<ReconstructionPanel>& panels, int width,
                                    int height) {
  std::ostringstream data, body;
  body << "set multiplot layout 1," << panels.size() << " title " << GnuplotQuote(title) << "\n"
       << "set logscale y\nset format y '10^{%L}'\nset grid\nset xlabel 't'\n"
       << "set ylabel " << GnuplotQuote(ylabel) << "\nset key below font ',9'\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const ReconstructionPanel& panel = panels[i];
    WritePanelData(panel, data);
    std::string label = panel.label;
    if (!panel.complete && !panel.times.empty()) {
      label += ", non-finite below t = " + FormatCompact(panel.times.back());
    }
    body << "set title " << GnuplotQuote("{/Symbol l} = " + FormatCompact(panel.lambda)) << "\n"
         << "plot '" << name << ".dat' index " << 2 * i
         << " using 1:2 with lines lw 2 lc rgb '#1b9e77' title 'exact e^{-{/Symbol l}t}', \\\n"
         << "     '" << name << ".dat' index " << 2 * i + 1
         << " using 1:2 with linespoints lw 1.5 pt 7 ps 0.5 lc rgb '#d95f02' title "
         << GnuplotQuote(label) << "\n";
  }
  body << "unset multiplot\n";
  AtomicWriteFile(dir + "/" + name + ".dat", data.str());
  return RenderGnuplot(dir, name, body.str(), width, height);
}

// ---------------------------------------------------------------- progress

ProgressLine::ProgressLine(std::string label, long total_iterations, bool quiet)
    : label_(std::move(label)),
      total_(total_iterations),
      enabled_(!quiet && ::isatty(STDOUT_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() { Finish(); }

void ProgressLine::Update(long iteration, double loss, long nfe) {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = label_ + "  it " + std::to_string(iteration);
  if (total_ > 0) line += "/" + std::to_string(total_);
  line += "  loss " + FormatScientific(loss, 3) + "  NFE " + std::to_string(nfe) + "  elapsed " +
          FormatSeconds(elapsed);
  if (total_ > 0 && iteration > 0) {
    const double eta = elapsed / static_cast<double>(iteration) *
                       static_cast<double>(std::max(0L, total_ - iteration));
    line += "  ETA " + FormatSeconds(eta);
  }
  // \r returns to the line start, ESC[K clears what a longer previous line left behind.
  std::cout << "\r" << line << "\x1b[K" << std::flush;
  open_ = true;
}

void ProgressLine::Finish() {
  if (!enabled_ || !open_) return;
  std::cout << "\r\x1b[K" << std::flush;
  open_ = false;
}

}  // namespace snode
