#pragma once
// WebSocket framing (RFC 6455) and permessage-deflate (RFC 7692) for the live
// map's server side, as pure code: bytes in, events and bytes out; no socket,
// no Asio. WsSession (http_server.cpp) owns the socket and drives these.
//
//   ws::FrameReader reader({.max_message = 64 * 1024, .rsv1_allowed = deflate});
//   std::string_view in(buf, n);                       // what one read returned
//   for (auto ev = reader.next(in); ev.kind != ws::Event::need_more; ev = reader.next(in))
//     handle(ev);                                      // ev.payload valid until the next call
//
//   auto agreed = ws::negotiate_deflate(req["Sec-WebSocket-Extensions"]);
//   if (agreed) response.set("Sec-WebSocket-Extensions", agreed->response);
//
//   // A shared body compressed once, every session its own prefix:
//   std::string body_z = ws::deflate_body(body);                   // once per body
//   std::string head = ws::stored_block(prefix);                   // per session
//   auto fh = ws::server_frame_head(ws::Opcode::text, true, head.size() + body_z.size());
//   write(fh.view(), head, body_z);  // the client inflates head + body_z + 00 00 FF FF
//
// Why the concatenation inflates to prefix + body: a stored block (BTYPE=00)
// ends on a byte boundary, and deflate_body's output is a fresh raw deflate
// stream (no header, no final block) that starts on one; its back-references
// never reach before its own start, so they cannot see the prefix. The server
// therefore announces server_no_context_takeover: no message depends on an
// earlier one, which is what lets one compressed body serve many sessions.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pm::ws {

enum class Opcode : uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Close codes (RFC 6455 section 7.4.1) the server sends.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseNoStatus = 1005;  // received only: a close frame without a code
inline constexpr uint16_t kCloseInvalidData = 1007;
inline constexpr uint16_t kClosePolicy = 1008;
inline constexpr uint16_t kCloseTooBig = 1009;

// A server frame's header: FIN set, unmasked, the shortest length form.
struct FrameHead {
  std::array<char, 10> bytes{};
  uint8_t size = 0;
  std::string_view view() const { return {bytes.data(), size}; }
};
FrameHead server_frame_head(Opcode op, bool rsv1, uint64_t payload_len);
// A whole control frame from the server; `payload` is cut to 125 bytes.
std::string server_control_frame(Opcode op, std::string_view payload);
// A close frame's payload: the code, then the reason cut to 123 bytes.
std::string close_payload(uint16_t code, std::string_view reason);

struct Event {
  enum Kind : uint8_t { need_more, message, ping, pong, close, error };
  Kind kind = need_more;
  Opcode opcode = Opcode::text;  // message: text or binary
  bool compressed = false;       // message: RSV1 was set on its first frame (permessage-deflate)
  std::string_view payload;      // message, ping, pong: unmasked bytes; valid until the next call
  uint16_t code = 0;             // close: the peer's code (kCloseNoStatus if none); error: the code to close with
  std::string_view reason;       // close: the peer's reason; error: why, for the close frame
};

// Client-to-server frames: masked (required), RSV2/3 clear, RSV1 only when
// permessage-deflate was agreed and only on a message's first frame, known
// opcodes, control frames final and at most 125 bytes, continuation only
// inside a fragmented message, a message (all its frames) at most
// `max_message` bytes, lengths in their shortest form. Control frames may
// arrive between a message's fragments. After an error every call returns it.
class FrameReader {
 public:
  struct Limits {
    size_t max_message = 64 * 1024;
    bool rsv1_allowed = false;
  };
  explicit FrameReader(Limits limits) : limits_(limits) {}
  // Consumes bytes from the front of `in` up to the end of the next event
  // (or all of them: need_more).
  Event next(std::string_view& in);
  bool failed() const { return failed_.kind == Event::error; }

 private:
  Event fail(uint16_t code, std::string_view why);
  Event frame_done();

  Limits limits_;
  std::array<uint8_t, 14> head_{};
  size_t head_len_ = 0, head_need_ = 2;
  bool in_payload_ = false;
  // The frame being read.
  bool fin_ = false, control_ = false;
  Opcode op_ = Opcode::text;
  std::array<uint8_t, 4> mask_{};
  uint64_t left_ = 0, offset_ = 0;
  // The data message being assembled (across continuation frames).
  bool in_message_ = false, message_compressed_ = false, clear_message_ = false;
  Opcode message_op_ = Opcode::text;
  std::string message_;
  std::string control_payload_;  // at most 125 bytes
  Event failed_;
};

// permessage-deflate as agreed at the upgrade.
struct DeflateAgreement {
  bool client_no_context_takeover = false;  // the client resets its compressor per message
  std::string response;                     // the Sec-WebSocket-Extensions value to answer with
};
// Picks the first permessage-deflate offer in `offers` (every
// Sec-WebSocket-Extensions value joined with ", ") the server can honour:
// it always answers server_no_context_takeover, echoes
// client_no_context_takeover when offered, and declines an offer that
// limits server_max_window_bits below 15 or that it cannot parse. nullopt:
// no compression.
std::optional<DeflateAgreement> negotiate_deflate(std::string_view offers);

// `bytes` (at most 65535) as one stored, non-final deflate block.
std::string stored_block(std::string_view bytes);
// `text` as a fresh raw deflate stream ended by a sync flush, with the
// 00 00 FF FF tail removed (RFC 7692 section 7.2.1). `level` as zlib's.
std::string deflate_body(std::string_view text, int level = 1);

// The receiving side for the client's compressed messages: one inflate
// context per session (kept across messages unless the client resets its own).
class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // Inflates one message's payload (the 00 00 FF FF tail appended) into `out`.
  enum class Result { ok, corrupt, too_big };
  [[nodiscard]] Result inflate(std::string_view payload, size_t max, std::string& out);
  // Forgets the window: for clients that agreed client_no_context_takeover.
  void reset();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace pm::ws
