// WebSocket framing and permessage-deflate (server/net/ws_frame): frames from
// RFC 6455 section 5.7, fed whole and one byte at a time; the protocol's
// refusals; offer negotiation (RFC 7692); and a stored-block prefix followed
// by a body deflated once, inflated by zlib itself as a browser would.
#include "server/net/ws_frame.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/support/ws_deflate.hpp"

namespace pm::ws {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

// A client frame: FIN as given, the payload masked with `mask` (RFC 6455 5.3).
std::string client_frame(int first_byte, std::string_view payload, std::array<uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d}) {
  std::string f;
  f += static_cast<char>(first_byte);
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else if (payload.size() <= 0xffff) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff);
  }
  for (uint8_t m : mask) f += static_cast<char>(m);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

struct Seen {
  Event::Kind kind;
  std::string payload;
  uint16_t code = 0;
  bool compressed = false;
  Opcode opcode = Opcode::text;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{kind " << int(s.kind) << " payload '" << s.payload << "' code " << s.code << "}";
}

// Every event of `wire` fed in pieces of `step` bytes (0: all at once).
std::vector<Seen> read_all(std::string_view wire, size_t step = 0, FrameReader::Limits limits = {}) {
  FrameReader r(limits);
  std::vector<Seen> out;
  while (!wire.empty()) {
    size_t n = step ? std::min(step, wire.size()) : wire.size();
    std::string_view in = wire.substr(0, n);
    wire.remove_prefix(n);
    for (Event ev = r.next(in); ev.kind != Event::need_more; ev = r.next(in)) {
      out.push_back({ev.kind, std::string(ev.kind == Event::error ? ev.reason : ev.payload), ev.code, ev.compressed,
                     ev.opcode});
      if (ev.kind == Event::error) return out;
      if (ev.kind == Event::close) out.back().payload = std::string(ev.reason);
    }
    EXPECT_TRUE(in.empty());
  }
  return out;
}

TEST(WsFrame, Rfc6455MaskedHelloWholeAndByteByByte) {
  // RFC 6455 5.7: "A single-frame masked text message" containing "Hello".
  const std::string wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  const std::vector<Seen> want{{Event::message, "Hello"}};
  EXPECT_EQ(read_all(wire), want);
  EXPECT_EQ(read_all(wire, 1), want);
  EXPECT_EQ(read_all(wire + wire, 3), (std::vector<Seen>{want[0], want[0]}));
}

TEST(WsFrame, Rfc6455UnmaskedFramesAreRefusedFromAClient) {
  // RFC 6455 5.7's unmasked "Hello", its fragmented form and its unmasked ping.
  for (const std::string& wire : {bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}),
                                  bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}),
                                  bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})}) {
    auto seen = read_all(wire);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].kind, Event::error);
    EXPECT_EQ(seen[0].code, kCloseProtocolError);
  }
}

TEST(WsFrame, FragmentsWithAPingBetweenThemMakeOneMessage) {
  // "Hel" + ping "Hello" + "lo": the ping comes out first, then the whole message.
  const std::string wire = client_frame(0x01, "Hel") + client_frame(0x89, "Hello") + client_frame(0x80, "lo");
  const std::vector<Seen> want{{Event::ping, "Hello"}, {Event::message, "Hello"}};
  for (size_t step : {0, 1, 2, 5}) EXPECT_EQ(read_all(wire, step), want) << "step " << step;
}

TEST(WsFrame, LengthFormsUpToTheMessageLimit) {
  // RFC 6455 5.7: 256 bytes take the 16-bit form, 64 KiB the 64-bit form.
  std::string p256(256, 'x'), p64k(65536, 'y');
  auto seen = read_all(client_frame(0x82, p256), 7);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload, p256);
  EXPECT_EQ(seen[0].opcode, Opcode::binary);
  seen = read_all(client_frame(0x82, p64k), 1000);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload, p64k);
  // One byte more than the limit, in one frame or over two fragments: 1009.
  seen = read_all(client_frame(0x82, p64k + "z"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, kCloseTooBig);
  seen = read_all(client_frame(0x02, p64k) + client_frame(0x80, "z"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, kCloseTooBig);
  // The header's 64-bit length is refused before any payload arrives.
  seen = read_all(bytes({0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, kCloseTooBig);
}

TEST(WsFrame, ProtocolViolationsAreErrors) {
  struct Case {
    const char* what;
    std::string wire;
    FrameReader::Limits limits;
  };
  const std::vector<Case> cases{
      {"ping of 126 bytes", client_frame(0x89, std::string(126, 'p')), {}},
      {"fragmented ping", client_frame(0x09, "p"), {}},
      {"RSV1 without deflate", client_frame(0xC1, "x"), {}},
      {"RSV2", client_frame(0xA1, "x"), {}},
      {"RSV3", client_frame(0x91, "x"), {}},
      {"RSV1 on a continuation", client_frame(0x41, "a") + client_frame(0xC0, "b"), {64 * 1024, true}},
      {"RSV1 on a ping", client_frame(0xC9, ""), {64 * 1024, true}},
      {"opcode 3", client_frame(0x83, "x"), {}},
      {"opcode 0xB", client_frame(0x8B, "x"), {}},
      {"continuation first", client_frame(0x80, "x"), {}},
      {"text inside a fragmented text", client_frame(0x01, "a") + client_frame(0x81, "b"), {}},
      {"16-bit form for 5 bytes", bytes({0x81, 0xfe, 0x00, 0x05, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}), {}},
      {"64-bit form for 5 bytes", bytes({0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}), {}},
      {"close of one byte", client_frame(0x88, "\x03"), {}},
      {"close code 999", client_frame(0x88, bytes({0x03, 0xe7})), {}},
      {"close code 1005 sent", client_frame(0x88, bytes({0x03, 0xed})), {}},
  };
  for (const auto& c : cases) {
    auto seen = read_all(c.wire, 0, c.limits);
    ASSERT_FALSE(seen.empty()) << c.what;
    EXPECT_EQ(seen.back().kind, Event::error) << c.what;
    EXPECT_EQ(seen.back().code, kCloseProtocolError) << c.what;
    auto bytewise = read_all(c.wire, 1, c.limits);
    EXPECT_EQ(bytewise, seen) << c.what;
  }
  // After an error the reader stays failed.
  FrameReader r({});
  std::string_view in("\x81\x05Hello", 7);
  EXPECT_EQ(r.next(in).kind, Event::error);
  std::string good = client_frame(0x81, "Hello");
  std::string_view in2(good);
  EXPECT_EQ(r.next(in2).kind, Event::error);
}

TEST(WsFrame, CloseFramesCarryCodeAndReason) {
  auto seen = read_all(client_frame(0x88, bytes({0x03, 0xe8}) + "bye"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, Event::close);
  EXPECT_EQ(seen[0].code, 1000);
  EXPECT_EQ(seen[0].payload, "bye");
  seen = read_all(client_frame(0x88, ""));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].code, kCloseNoStatus);
  seen = read_all(client_frame(0x88, bytes({0x0f, 0xa0})));  // 4000: private use
  EXPECT_EQ(seen[0].code, 4000);
  // A compressed message's first frame has RSV1 when deflate was agreed.
  seen = read_all(client_frame(0xC1, "zz"), 1, {64 * 1024, true});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].compressed);
}

TEST(WsFrame, ServerFrameHeadsAndControlFrames) {
  EXPECT_EQ(server_frame_head(Opcode::text, false, 5).view(), bytes({0x81, 0x05}));
  EXPECT_EQ(server_frame_head(Opcode::text, true, 125).view(), bytes({0xC1, 0x7d}));
  EXPECT_EQ(server_frame_head(Opcode::binary, false, 256).view(), bytes({0x82, 0x7e, 0x01, 0x00}));
  EXPECT_EQ(server_frame_head(Opcode::text, false, 65535).view(), bytes({0x81, 0x7e, 0xff, 0xff}));
  EXPECT_EQ(server_frame_head(Opcode::text, false, 65536).view(), bytes({0x81, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(server_frame_head(Opcode::text, true, 880'000).view(), bytes({0xC1, 0x7f, 0, 0, 0, 0, 0, 0x0d, 0x6d, 0x80}));
  // RFC 6455 5.7: the unmasked pong... here a ping "Hello" as the server sends it.
  EXPECT_EQ(server_control_frame(Opcode::ping, "Hello"), bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(server_control_frame(Opcode::pong, std::string(200, 'x')).size(), 2u + 125u);
  EXPECT_EQ(close_payload(1008, "unauthorized"), bytes({0x03, 0xf0}) + "unauthorized");
  EXPECT_EQ(close_payload(1008, std::string(300, 'r')).size(), 125u);
}

TEST(WsDeflate, NegotiationAcceptsWhatItCanHonour) {
  // Chromium's offer.
  auto a = negotiate_deflate("permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate; server_no_context_takeover");
  EXPECT_FALSE(a->client_no_context_takeover);
  a = negotiate_deflate("permessage-deflate;client_no_context_takeover;server_no_context_takeover");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_TRUE(a->client_no_context_takeover);
  a = negotiate_deflate("Permessage-Deflate; server_max_window_bits=15; client_max_window_bits=\"10\"");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate; server_no_context_takeover; server_max_window_bits=15");
  // A smaller server window is declined; a later plain offer is taken instead.
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits=10"));
  a = negotiate_deflate("permessage-deflate; server_max_window_bits=10, permessage-deflate");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate; server_no_context_takeover");
  a = negotiate_deflate("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(a);
  // Nothing offered, something else, or something unparseable: no compression.
  for (const char* offer : {"", "x-webkit-deflate-frame", "permessage-deflate; foo", "permessage-deflate; foo=1",
                            "permessage-deflate; server_no_context_takeover=1",
                            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                            "permessage-deflate; server_max_window_bits", "permessage-deflate; client_max_window_bits=7",
                            "permessage-deflate; client_max_window_bits=16", "permessage-deflate; client_max_window_bits=015",
                            "permessage-deflate; client_max_window_bits=\"10", "permessage-deflate; =", "permessage-deflate; a b"})
    EXPECT_FALSE(negotiate_deflate(offer)) << offer;
}

TEST(WsDeflate, StoredBlockLayout) {
  // RFC 1951 3.2.4: header bits 000 (not final, stored), then LEN and NLEN little-endian.
  EXPECT_EQ(stored_block("abc"), bytes({0x00, 0x03, 0x00, 0xfc, 0xff}) + "abc");
  EXPECT_EQ(stored_block("").size(), 5u);
  EXPECT_THROW(stored_block(std::string(65536, 'x')), std::length_error);
}

// What a browser does with a message (RFC 7692 7.2.2): the tail appended,
// raw inflate. `z` may be reused across messages, as clients do.
std::string zlib_inflate(z_stream& z, std::string message) {
  message += std::string("\0\0\xff\xff", 4);
  z.next_in = reinterpret_cast<Bytef*>(message.data());
  z.avail_in = static_cast<uInt>(message.size());
  std::string out;
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc << " " << (z.msg ? z.msg : "");
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    out.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_in > 0 || z.avail_out == 0);
  return out;
}

std::string real_json() {
  const char* dir = std::getenv("PATROLMAP_DATA");
  std::ifstream f(std::string(dir ? dir : "../shared/data") + "/boundaries/leicestershire-county-wards.geojson");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(WsDeflate, PrefixAsStoredBlockThenSharedBodyInflatesToTheMessage) {
  const std::string body = real_json();
  ASSERT_GT(body.size(), 50'000u) << "PATROLMAP_DATA not set?";  // longer than the 32 KiB window
  const std::string z_body = deflate_body(body);
  EXPECT_LT(z_body.size(), body.size() / 2);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
  // Several messages through one inflate context, as a browser keeps it;
  // each its own prefix, all the same compressed body.
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    std::string prefix = R"({"type":"delta","seq":)" + std::to_string(seq);
    std::string got = zlib_inflate(z, stored_block(prefix) + z_body);
    ASSERT_EQ(got.size(), prefix.size() + body.size()) << "seq " << seq;
    EXPECT_TRUE(got == prefix + body) << "seq " << seq;
  }
  inflateEnd(&z);
  // A body that is no longer than a prefix, and an empty one.
  z = {};
  ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
  EXPECT_EQ(zlib_inflate(z, stored_block("{") + deflate_body("}")), "{}");
  EXPECT_EQ(zlib_inflate(z, stored_block("x") + deflate_body("")), "x");
  inflateEnd(&z);
}

using test::ClientDeflater;

TEST(WsDeflate, InflaterTakesClientMessagesWithContextAndRefusesBombs) {
  ClientDeflater client;
  Inflater in;
  std::string out;
  const std::string hello = R"({"op":"hello","token":"abc","bbox":[-1.2,52.6,-1.1,52.7]})";
  const std::string viewport = R"({"op":"viewport","bbox":[-1.2,52.6,-1.1,52.7]})";
  ASSERT_EQ(in.inflate(client.message(hello), 64 * 1024, out), Inflater::Result::ok);
  EXPECT_EQ(out, hello);
  // The second message refers back into the first (its bbox): needs the kept window.
  std::string m2 = client.message(viewport);
  EXPECT_LT(m2.size(), viewport.size() / 2);
  ASSERT_EQ(in.inflate(m2, 64 * 1024, out), Inflater::Result::ok);
  EXPECT_EQ(out, viewport);
  // 1 MB of zeros compresses to about a kilobyte: refused at the limit.
  ClientDeflater bomb;
  std::string zeros(1 << 20, '0');
  Inflater in2;
  EXPECT_EQ(in2.inflate(bomb.message(zeros), 64 * 1024, out), Inflater::Result::too_big);
  Inflater in3;
  EXPECT_EQ(in3.inflate(bytes({0xff, 0xff, 0xff, 0x00}), 64 * 1024, out), Inflater::Result::corrupt);
  // The server's own output reads back too (prefix + body).
  Inflater in4;
  ASSERT_EQ(in4.inflate(stored_block("ab") + deflate_body("cdcdcdcd"), 64, out), Inflater::Result::ok);
  EXPECT_EQ(out, "abcdcdcdcd");
}

}  // namespace
}  // namespace pm::ws
