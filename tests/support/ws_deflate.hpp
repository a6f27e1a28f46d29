#pragma once
// The client side of permessage-deflate (RFC 7692 7.2.1) with real zlib, for
// tests: one raw deflate context; keep the object for context takeover, use
// a fresh one per message for client_no_context_takeover.
//
//   test::ClientDeflater z;
//   std::string payload = z.message(R"({"op":"hello"})");   // send with RSV1
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

namespace pm::test {

class ClientDeflater {
 public:
  ClientDeflater() { EXPECT_EQ(deflateInit2(&z_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK); }
  ~ClientDeflater() { deflateEnd(&z_); }
  ClientDeflater(const ClientDeflater&) = delete;
  ClientDeflater& operator=(const ClientDeflater&) = delete;

  // `text` sync-flushed, with the 00 00 FF FF tail dropped.
  std::string message(std::string_view text) {
    std::string out(deflateBound(&z_, static_cast<uLong>(text.size())) + 64, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z_.avail_in = static_cast<uInt>(text.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z_, Z_SYNC_FLUSH), Z_OK);
    out.resize(out.size() - z_.avail_out);
    EXPECT_EQ(out.substr(out.size() - 4), std::string("\0\0\xff\xff", 4));
    out.resize(out.size() - 4);
    return out;
  }

 private:
  z_stream z_{};
};

}  // namespace pm::test
