// W3C Trace Context (common/base/trace_context.h): traceparent parsing and
// formatting, child spans, and the trace fields of log lines.
#include "common/base/trace_context.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "common/base/log.h"

namespace microblog {
namespace {

TEST(TraceContext, ParsesVersion00Traceparents) {
  const std::string header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::optional<Traceparent> parsed = ParseTraceparent(header);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0);
  EXPECT_EQ(parsed->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(parsed->parent_id, "b7ad6b7169203331");
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(FormatTraceparent(*parsed), header);
  EXPECT_EQ(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe")->flags,
            0xfe);
}

TEST(TraceContext, AChildSpanKeepsTheTraceAndGetsANewSpanId) {
  const TraceContext parent{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v"};
  const TraceContext child = ChildSpan(parent);
  const std::optional<Traceparent> parsed = ParseTraceparent(child.traceparent);
  ASSERT_TRUE(parsed.has_value()) << child.traceparent;
  EXPECT_EQ(parsed->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(parsed->parent_id, "b7ad6b7169203331");
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(child.tracestate, "k=v");
  EXPECT_NE(ChildSpan(parent).traceparent, child.traceparent);  // each call its own span
  EXPECT_TRUE(ChildSpan(TraceContext{}).traceparent.empty());

  const LogTrace fields = TraceLogFieldsOf(parent);
  EXPECT_EQ(fields.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(fields.span_id, "b7ad6b7169203331");
  EXPECT_EQ(fields.trace_flags, "01");
  EXPECT_TRUE(TraceLogFieldsOf(TraceContext{}).trace_id.empty());
}

TEST(TraceContext, RejectsMalformedTraceparents) {
  for (const char* bad : {
           "",
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",    // short flags
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // v00 has 4 fields
           "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   // upper case
           "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
           "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero parent id
           "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version ff
           "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // not hex
           "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // separator
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",   // flags not hex
           "00-0af7651916cd43dd8448eb211c8031-9c-b7ad6b7169203331-01",  // dash inside
           "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // no dash after flags
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContext, LaterVersionsMayAppendFieldsAndAreForwardedAsVersion00) {
  const std::optional<Traceparent> parsed =
      ParseTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0xcc);
  EXPECT_EQ(FormatTraceparent(*parsed), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_TRUE(ParseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
}

}  // namespace
}  // namespace microblog
