// Project exception type and checking macros shared by every layer.
//
// An error is data: its message is a list of parts, each plain text, a
// configuration key ("train.lr") or the subject it is about (a file, tensor
// or sweep point). The library writes a key as the key; a front end renders
// it under its own name (the CLI: the flag, apps/flag_names.h). No front end
// ever parses message text.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sxb {

// A configuration key inside a message: Message{Key{"train.lr"}, " -1 is not positive"}.
struct Key {
  std::string name;
};
// What a message is about besides a key: a file path, a tensor name or a point.
struct Subject {
  std::string name;
};

// The parts of one message, built from strings, Keys and Subjects in order.
class Message {
 public:
  enum class Kind { Text, Key, Subject };
  struct Part {
    Kind kind = Kind::Text;
    std::string text;
  };

  Message() = default;
  Message(std::string text) { add(std::move(text)); }  // NOLINT: a plain message converts
  Message(const char* text) { add(std::string(text)); }  // NOLINT
  Message(Key k) { add(std::move(k)); }                   // NOLINT
  Message(Subject s) { add(std::move(s)); }               // NOLINT
  template <class A, class B, class... Rest>
  Message(A&& a, B&& b, Rest&&... rest) {
    add(std::forward<A>(a));
    add(std::forward<B>(b));
    (add(std::forward<Rest>(rest)), ...);
  }

  Message& add(std::string text) {
    if (!text.empty()) parts_.push_back({Kind::Text, std::move(text)});
    return *this;
  }
  Message& add(const char* text) { return add(std::string(text)); }
  Message& add(Key k) {
    parts_.push_back({Kind::Key, std::move(k.name)});
    return *this;
  }
  Message& add(Subject s) {
    parts_.push_back({Kind::Subject, std::move(s.name)});
    return *this;
  }

  Message& add(const Message& m) {
    parts_.insert(parts_.end(), m.parts_.begin(), m.parts_.end());
    return *this;
  }

  const std::vector<Part>& parts() const { return parts_; }
  // The first key of the message (what it is about), or empty.
  std::string key() const { return first(Kind::Key); }
  // The first subject (file, tensor, point), or empty.
  std::string subject() const { return first(Kind::Subject); }
  // The message with every key written as key_name(key).
  std::string render(const std::function<std::string(const std::string&)>& key_name) const {
    std::string out;
    for (const Part& p : parts_) out += p.kind == Kind::Key && key_name ? key_name(p.text) : p.text;
    return out;
  }
  // The library's form: keys as keys.
  std::string text() const { return render(nullptr); }

 private:
  std::string first(Kind k) const {
    for (const Part& p : parts_)
      if (p.kind == k) return p.text;
    return {};
  }
  std::vector<Part> parts_;
};

// The one exception type of the project. `what()` is a one-line, user-facing
// reason with keys written as keys; `message()` is the same as data;
// `where()` names the source location for developers.
class Error : public std::runtime_error {
 public:
  Error(const Message& message, const char* file = "", int line = 0)
      : std::runtime_error(message.text()), message_(message), where_(std::string(file) + ":" + std::to_string(line)) {}
  Error(const std::string& message, const char* file = "", int line = 0) : Error(Message(message), file, line) {}
  Error(const char* message, const char* file = "", int line = 0) : Error(Message(message), file, line) {}
  const std::string& where() const { return where_; }
  const Message& message() const { return message_; }
  std::string key() const { return message_.key(); }
  std::string subject() const { return message_.subject(); }

 private:
  Message message_;
  std::string where_;
};

}  // namespace sxb

// Throws sxb::Error with the message (a std::string or sxb::Message
// expression; variadic only so that the commas of Message{...} pass) unless
// `cond` holds.
#define SXB_REQUIRE(cond, ...)                                        \
  do {                                                                \
    if (!(cond)) throw ::sxb::Error((__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)
