// Tests of the study report (studies/study_report.hpp, verdict.hpp, report_figures.hpp).
#include "studies/study_report.hpp"

#include <gtest/gtest.h>

namespace snode {
namespace {

TEST(StudyReport, Placeholder) { EXPECT_EQ(HtmlEscape("<a&b>"), "&lt;a&amp;b&gt;"); }

}  // namespace
}  // namespace snode
