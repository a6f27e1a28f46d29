#include "server/net/ws_frame.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace pm::ws {

FrameHead server_frame_head(Opcode op, bool rsv1, uint64_t payload_len) {
  FrameHead h;
  h.bytes[0] = static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(op));
  if (payload_len < 126) {
    h.bytes[1] = static_cast<char>(payload_len);
    h.size = 2;
  } else if (payload_len <= 0xffff) {
    h.bytes[1] = 126;
    h.bytes[2] = static_cast<char>(payload_len >> 8);
    h.bytes[3] = static_cast<char>(payload_len & 0xff);
    h.size = 4;
  } else {
    h.bytes[1] = 127;
    for (int i = 0; i < 8; ++i) h.bytes[static_cast<size_t>(2 + i)] = static_cast<char>(payload_len >> (56 - 8 * i));
    h.size = 10;
  }
  return h;
}

std::string server_control_frame(Opcode op, std::string_view payload) {
  payload = payload.substr(0, 125);
  std::string f(server_frame_head(op, false, payload.size()).view());
  f.append(payload);
  return f;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  p.append(reason.substr(0, 123));
  return p;
}

// ------------------------------------------------------------ FrameReader

namespace {
bool valid_close_code(uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}
}  // namespace

Event FrameReader::fail(uint16_t code, std::string_view why) {
  failed_ = {};
  failed_.kind = Event::error;
  failed_.code = code;
  failed_.reason = why;  // always a literal
  return failed_;
}

Event FrameReader::next(std::string_view& in) {
  if (failed()) return failed_;
  if (clear_message_) {
    message_.clear();
    in_message_ = clear_message_ = false;
  }
  for (;;) {
    if (!in_payload_) {
      size_t take = std::min(in.size(), head_need_ - head_len_);
      std::memcpy(head_.data() + head_len_, in.data(), take);
      in.remove_prefix(take);
      head_len_ += take;
      if (head_len_ < head_need_) return {};
      if (head_need_ == 2) {
        if (!(head_[1] & 0x80)) return fail(kCloseProtocolError, "frame not masked");
        uint8_t len7 = head_[1] & 0x7f;
        head_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
        continue;
      }
      const uint8_t b0 = head_[0], len7 = head_[1] & 0x7f;
      const bool fin = b0 & 0x80, rsv1 = b0 & 0x40;
      if (b0 & 0x30) return fail(kCloseProtocolError, "reserved bits set");
      const uint8_t op = b0 & 0x0f;
      if (op > 2 && (op < 8 || op > 10)) return fail(kCloseProtocolError, "unknown opcode");
      uint64_t len = len7;
      if (len7 == 126) {
        len = (uint64_t{head_[2]} << 8) | head_[3];
        if (len < 126) return fail(kCloseProtocolError, "length not in its shortest form");
      } else if (len7 == 127) {
        len = 0;
        for (size_t i = 2; i < 10; ++i) len = (len << 8) | head_[i];
        if (len >> 63) return fail(kCloseProtocolError, "length too large");
        if (len <= 0xffff) return fail(kCloseProtocolError, "length not in its shortest form");
      }
      std::memcpy(mask_.data(), head_.data() + head_need_ - 4, 4);
      head_len_ = 0;
      head_need_ = 2;
      control_ = op >= 8;
      if (control_) {
        if (!fin) return fail(kCloseProtocolError, "fragmented control frame");
        if (len > 125) return fail(kCloseProtocolError, "control frame over 125 bytes");
        if (rsv1) return fail(kCloseProtocolError, "RSV1 on a control frame");
        control_payload_.clear();
      } else if (op == 0) {
        if (!in_message_) return fail(kCloseProtocolError, "continuation outside a message");
        if (rsv1) return fail(kCloseProtocolError, "RSV1 on a continuation frame");
      } else {
        if (in_message_) return fail(kCloseProtocolError, "new message inside a fragmented one");
        if (rsv1 && !limits_.rsv1_allowed) return fail(kCloseProtocolError, "RSV1 without permessage-deflate");
        in_message_ = true;
        message_op_ = static_cast<Opcode>(op);
        message_compressed_ = rsv1;
        message_.clear();
      }
      if (!control_ && len > limits_.max_message - message_.size()) return fail(kCloseTooBig, "message too big");
      fin_ = fin;
      op_ = static_cast<Opcode>(op);
      left_ = len;
      offset_ = 0;
      in_payload_ = true;
    }
    if (left_ > 0) {
      if (in.empty()) return {};
      const size_t take = static_cast<size_t>(std::min<uint64_t>(in.size(), left_));
      std::string& dst = control_ ? control_payload_ : message_;
      const size_t base = dst.size();
      dst.append(in.data(), take);
      for (size_t i = 0; i < take; ++i) dst[base + i] = static_cast<char>(dst[base + i] ^ mask_[(offset_ + i) & 3]);
      in.remove_prefix(take);
      offset_ += take;
      left_ -= take;
      if (left_ > 0) return {};
    }
    in_payload_ = false;
    Event ev = frame_done();
    if (ev.kind != Event::need_more) return ev;
  }
}

Event FrameReader::frame_done() {
  Event ev;
  if (control_) {
    ev.payload = control_payload_;
    if (op_ == Opcode::ping) ev.kind = Event::ping;
    else if (op_ == Opcode::pong) ev.kind = Event::pong;
    else {
      ev.kind = Event::close;
      ev.payload = {};
      if (control_payload_.empty()) {
        ev.code = kCloseNoStatus;
      } else {
        if (control_payload_.size() == 1) return fail(kCloseProtocolError, "close frame of one byte");
        ev.code = static_cast<uint16_t>((static_cast<uint8_t>(control_payload_[0]) << 8) |
                                        static_cast<uint8_t>(control_payload_[1]));
        if (!valid_close_code(ev.code)) return fail(kCloseProtocolError, "invalid close code");
        ev.reason = std::string_view(control_payload_).substr(2);
      }
    }
    return ev;
  }
  if (!fin_) return ev;  // more fragments to come
  clear_message_ = true;
  ev.kind = Event::message;
  ev.opcode = message_op_;
  ev.compressed = message_compressed_;
  ev.payload = message_;
  return ev;
}

// ------------------------------------------------------- permessage-deflate

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits at `sep` outside double quotes; nullopt when a quote is unbalanced.
std::optional<std::vector<std::string_view>> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    else if (s[i] == sep && !quoted) {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (quoted) return std::nullopt;
  parts.push_back(trim(s.substr(start)));
  return parts;
}

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

bool token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c <= 32 || c >= 127 || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
  return true;
}

// A window-bits value: 8 to 15, as a token or a quoted string.
std::optional<int> window_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int bits = v.size() == 1 ? v[0] - '0' : (v[0] - '0') * 10 + (v[1] - '0');
  if (v.size() == 2 && v[0] == '0') return std::nullopt;
  if (bits < 8 || bits > 15) return std::nullopt;
  return bits;
}

// One offer's parameters; nullopt when the server cannot accept it.
std::optional<DeflateAgreement> accept_offer(const std::vector<std::string_view>& params) {
  DeflateAgreement a;
  bool server_nct = false, client_nct = false, server_bits = false, client_bits = false;
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = params[i], key = p, value;
    bool has_value = false;
    if (auto eq = p.find('='); eq != std::string_view::npos) {
      key = trim(p.substr(0, eq));
      value = trim(p.substr(eq + 1));
      has_value = true;
    }
    if (!token(key)) return std::nullopt;
    if (iequals(key, "server_no_context_takeover") || iequals(key, "client_no_context_takeover")) {
      bool& seen = key[0] == 's' || key[0] == 'S' ? server_nct : client_nct;
      if (has_value || seen) return std::nullopt;
      seen = true;
    } else if (iequals(key, "server_max_window_bits")) {
      // Bodies are compressed once for everyone with a 32 KiB window.
      auto bits = has_value ? window_bits(value) : std::nullopt;
      if (server_bits || !bits || *bits != 15) return std::nullopt;
      server_bits = true;
    } else if (iequals(key, "client_max_window_bits")) {
      // The client may use any window: the inflater's 32 KiB takes them all.
      if (client_bits || (has_value && !window_bits(value))) return std::nullopt;
      client_bits = true;
    } else {
      return std::nullopt;
    }
  }
  a.client_no_context_takeover = client_nct;
  a.response = "permessage-deflate; server_no_context_takeover";
  if (client_nct) a.response += "; client_no_context_takeover";
  if (server_bits) a.response += "; server_max_window_bits=15";
  return a;
}

}  // namespace

std::optional<DeflateAgreement> negotiate_deflate(std::string_view offers) {
  auto list = split(offers, ',');
  if (!list) return std::nullopt;
  for (std::string_view offer : *list) {
    auto params = split(offer, ';');
    if (!params || !iequals((*params)[0], "permessage-deflate")) continue;
    if (auto a = accept_offer(*params)) return a;
  }
  return std::nullopt;
}

std::string stored_block(std::string_view bytes) {
  if (bytes.size() > 0xffff) throw std::length_error("stored_block: more than 65535 bytes");
  const auto len = static_cast<uint16_t>(bytes.size()), nlen = static_cast<uint16_t>(~len);
  std::string b;
  b.reserve(5 + bytes.size());
  b += '\0';  // BFINAL=0, BTYPE=00, then padding to the byte boundary
  b += static_cast<char>(len & 0xff);
  b += static_cast<char>(len >> 8);
  b += static_cast<char>(nlen & 0xff);
  b += static_cast<char>(nlen >> 8);
  b.append(bytes);
  return b;
}

std::string deflate_body(std::string_view text, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  size_t done = 0;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data() + done);
    z.avail_out = static_cast<uInt>(out.size() - done);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    done = out.size() - z.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      deflateEnd(&z);
      throw std::runtime_error("deflate failed");
    }
    if (z.avail_out != 0) break;  // all input consumed and flushed
    out.resize(out.size() * 2);
  }
  deflateEnd(&z);
  out.resize(done);
  // A sync flush ends with an empty stored block: 00 00 FF FF after the alignment.
  if (out.size() >= 4 && out.compare(out.size() - 4, 4, std::string_view("\0\0\xff\xff", 4)) == 0)
    out.resize(out.size() - 4);
  return out;
}

struct Inflater::State {
  State() {
    if (inflateInit2(&z, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  }
  ~State() { inflateEnd(&z); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  z_stream z{};
};

Inflater::Inflater() : s_(std::make_unique<State>()) {}

Inflater::~Inflater() = default;

void Inflater::reset() { inflateReset(&s_->z); }

Inflater::Result Inflater::inflate(std::string_view payload, size_t max, std::string& out) {
  z_stream& z = s_->z;
  static constexpr char kTail[4] = {0, 0, '\xff', '\xff'};
  out.clear();
  char buf[16 * 1024];
  for (std::string_view part : {payload, std::string_view(kTail, 4)}) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z.avail_in = static_cast<uInt>(part.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      int rc = ::inflate(&z, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
      if (out.size() > max) {
        inflateReset(&z);
        return Result::too_big;
      }
      if (rc == Z_STREAM_END) {  // the client ended its stream with a final block: the tail is not needed
        inflateReset(&z);
        return Result::ok;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        inflateReset(&z);
        return Result::corrupt;
      }
      if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible: needs more input
    } while (z.avail_in > 0 || z.avail_out == 0);
  }
  return Result::ok;
}

}  // namespace pm::ws
