// moodnet::Value: a JSON value (null, bool, integer, real, string, array, object) for layer and
// optimizer configs, model metadata and the model file's header, with JSON text in and out.
//
//   Value cfg = {{"filters", 32}, {"padding", "same"}, {"kernel_size", Value::array({3, 3})}};
//   int64_t f = cfg.at("filters").get<int64_t>();        // Error "... expected an integer ..."
//   double l2 = cfg.value("l2", 0.0);                     // fallback when the key is absent
//   std::string text = cfg.dump();  Value back = Value::parse(text);
//
// Why not nlohmann::json in these interfaces: <nlohmann/json.hpp> and the code instantiated from
// it were about a third of the work of compiling <moodnet/moodnet.hpp> (every translation unit of
// every user paid it). Programs that use nlohmann::json convert with <moodnet/io/json.hpp>.
// Objects keep their keys sorted (as nlohmann::json does), so dump() is canonical.
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../config.hpp"

namespace moodnet {

namespace detail {
template <class T>
inline constexpr bool is_std_vector = false;
template <class U>
inline constexpr bool is_std_vector<std::vector<U>> = true;
}  // namespace detail

class Value {
 public:
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // sorted by key, keys unique
  enum class Kind { null, boolean, integer, unsigned_integer, real, string, array, object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : kind_(Kind::boolean) { n_.b = b; }
  template <std::integral I>
  requires(!std::same_as<I, bool>) Value(I i) {
    if constexpr (std::is_signed_v<I>) {
      kind_ = Kind::integer;
      n_.i = static_cast<int64_t>(i);
    } else {
      kind_ = Kind::unsigned_integer;
      n_.u = static_cast<uint64_t>(i);
    }
  }
  template <std::floating_point F>
  Value(F x) : kind_(Kind::real) {
    n_.d = static_cast<double>(x);
  }
  Value(const char* s) : kind_(Kind::string), s_(s) {}
  Value(std::string s) : kind_(Kind::string), s_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::string), s_(s) {}
  template <class T>
  Value(const std::vector<T>& xs) : kind_(Kind::array), a_(xs.begin(), xs.end()) {}
  // {{"key", value}, ...} is an object, as with nlohmann::json.
  Value(std::initializer_list<Member> members) : kind_(Kind::object) {
    for (const Member& m : members) (*this)[m.first] = m.second;
  }

  static Value array(std::initializer_list<Value> xs = {}) {
    Value v;
    v.kind_ = Kind::array;
    v.a_.assign(xs.begin(), xs.end());
    return v;
  }
  static Value object() {
    Value v;
    v.kind_ = Kind::object;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind() == Kind::null; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_integer() const { return kind() == Kind::integer || kind() == Kind::unsigned_integer; }
  bool is_unsigned() const {
    return kind() == Kind::unsigned_integer || (kind() == Kind::integer && int_() >= 0);
  }
  bool is_number() const { return is_integer() || kind() == Kind::real; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_array() const { return kind() == Kind::array; }
  bool is_object() const { return kind() == Kind::object; }
  const char* type_name() const {
    static constexpr const char* names[] = {"null",   "boolean", "integer", "integer",
                                            "number", "string",  "array",   "object"};
    return names[static_cast<int>(kind_)];
  }

  // The value as T: bool, an integer type (range-checked; a real only when integral), a floating
  // type, std::string, std::vector<U> of any of these, or Value. Throws Error on a mismatch.
  template <class T>
  T get() const {
    if constexpr (std::same_as<T, Value>) {
      return *this;
    } else if constexpr (std::same_as<T, bool>) {
      expect(is_bool(), "a boolean");
      return n_.b;
    } else if constexpr (std::integral<T>) {
      return checked_integer<T>();
    } else if constexpr (std::floating_point<T>) {
      expect(is_number(), "a number");
      if (kind() == Kind::integer) return static_cast<T>(int_());
      if (kind() == Kind::unsigned_integer) return static_cast<T>(n_.u);
      return static_cast<T>(n_.d);
    } else if constexpr (std::same_as<T, std::string>) {
      expect(is_string(), "a string");
      return s_;
    } else {
      static_assert(detail::is_std_vector<T>, "Value::get<T>: unsupported type");
      const Array& a = as_array();
      T out;
      out.reserve(a.size());
      for (size_t i = 0; i < a.size(); ++i)
        out.push_back(a[i].template get<typename T::value_type>());
      return out;
    }
  }

  const std::string& as_string() const {
    expect(is_string(), "a string");
    return s_;
  }
  const Array& as_array() const {
    expect(is_array(), "an array");
    return a_;
  }
  const Object& as_object() const {
    expect(is_object(), "an object");
    return o_;
  }

  // Objects.
  bool contains(std::string_view key) const { return is_object() && find(key) != nullptr; }
  const Value& at(std::string_view key) const {
    expect(is_object(), "an object");
    const Value* v = find(key);
    MOODNET_CHECK(v, "missing key '", key, "'");
    return *v;
  }
  Value& at(std::string_view key) {
    return const_cast<Value&>(static_cast<const Value*>(this)->at(key));
  }
  // Inserts null under a missing key; a null value becomes an empty object first.
  Value& operator[](std::string_view key) {
    if (is_null()) kind_ = Kind::object;
    expect(is_object(), "an object");
    Object& o = o_;
    auto it = lower_bound(o.begin(), o.end(), key);
    if (it == o.end() || it->first != key) it = o.insert(it, Member(std::string(key), Value()));
    return it->second;
  }
  const Value& operator[](std::string_view key) const { return at(key); }
  // The value under `key` as T, or `fallback` when the key is absent (or this is not an object).
  template <class T>
  T value(std::string_view key, const T& fallback) const {
    const Value* v = is_object() ? find(key) : nullptr;
    if (!v) return fallback;
    try {
      return v->template get<T>();
    } catch (const Error& e) {
      MOODNET_FAIL("key '", key, "': ", e.what());
    }
  }
  std::string value(std::string_view key, const char* fallback) const {
    return value<std::string>(key, fallback);
  }
  // Copies every member of `other` (an object) into this object, replacing equal keys.
  void update(const Value& other) {
    for (const Member& m : other.as_object()) (*this)[m.first] = m.second;
  }

  // Arrays.
  const Value& at(size_t i) const {
    const Array& a = as_array();
    MOODNET_CHECK(i < a.size(), "index ", i, " is out of range (array of ", a.size(), ")");
    return a[i];
  }
  Value& at(size_t i) { return const_cast<Value&>(static_cast<const Value*>(this)->at(i)); }
  void push_back(Value x) {
    if (is_null()) kind_ = Kind::array;
    expect(is_array(), "an array");
    a_.push_back(std::move(x));
  }
  Array::const_iterator begin() const { return as_array().begin(); }
  Array::const_iterator end() const { return as_array().end(); }

  // Elements of an array or members of an object; 0 for scalars and null.
  size_t size() const {
    if (is_array()) return a_.size();
    if (is_object()) return o_.size();
    return 0;
  }

  // Equal kinds and contents; integers compare by value whatever their signedness, and equal to a
  // real of the same value (as in JSON, 1 and 1.0 are the same number).
  friend bool operator==(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
      if (a.is_integer() && b.is_integer()) {
        if (a.is_unsigned() != b.is_unsigned()) return false;
        return a.is_unsigned() ? a.get<uint64_t>() == b.get<uint64_t>() : a.int_() == b.int_();
      }
      return a.get<double>() == b.get<double>();
    }
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
      case Kind::boolean:
        return a.n_.b == b.n_.b;
      case Kind::string:
        return a.s_ == b.s_;
      case Kind::array:
        return a.a_ == b.a_;
      case Kind::object:
        return a.o_ == b.o_;
      default:
        return true;  // null
    }
  }

  // Compact JSON text. Reals are written in the shortest form that reads back to the same double
  // and always with a '.' or exponent; NaN and infinities (not JSON) become null.
  std::string dump() const {
    std::string out;
    dump_to(out);
    return out;
  }

  // Parses JSON text (RFC 8259; surrounding whitespace allowed). Throws Error naming the byte
  // offset and what was expected. Nesting deeper than 256 levels is refused.
  static Value parse(std::string_view text) {
    Parser p{text, 0};
    p.skip_space();
    Value v = p.parse_value(0);
    p.skip_space();
    if (p.pos != text.size()) p.fail("end of input");
    return v;
  }

 private:
  int64_t int_() const { return n_.i; }

  void expect(bool ok, const char* what) const {
    MOODNET_CHECK(ok, "expected ", what, ", got ", type_name());
  }

  template <class T>
  T checked_integer() const {
    if (kind() == Kind::real) {
      const double d = n_.d;
      MOODNET_CHECK(std::trunc(d) == d && d >= double(std::numeric_limits<T>::min()) &&
                        d <= double(std::numeric_limits<T>::max()),
                    "expected an integer, got ", d);
      return static_cast<T>(d);
    }
    expect(is_integer(), "an integer");
    if (kind() == Kind::integer) {
      const int64_t i = int_();
      MOODNET_CHECK(std::in_range<T>(i), "integer ", i, " is out of range");
      return static_cast<T>(i);
    }
    const uint64_t u = n_.u;
    MOODNET_CHECK(std::in_range<T>(u), "integer ", u, " is out of range");
    return static_cast<T>(u);
  }

  // The first member whose key is not less than `key` (binary search on the sorted keys).
  template <class It>
  static It lower_bound(It it, It end, std::string_view key) {
    for (auto n = end - it; n > 0;) {
      const auto half = n / 2;
      if (std::string_view((it + half)->first) < key) {
        it += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return it;
  }
  const Value* find(std::string_view key) const {
    const Object& o = o_;
    auto it = lower_bound(o.begin(), o.end(), key);
    return it != o.end() && it->first == key ? &it->second : nullptr;
  }

  static void dump_string(std::string& out, const std::string& s) {
    out += '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20) {
        static constexpr char hex[] = "0123456789abcdef";
        const char* named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : nullptr;
        if (named) {
          out += named;
        } else {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        }
      } else {
        out += c;
      }
    }
    out += '"';
  }

  void dump_to(std::string& out) const {
    char buf[32];
    switch (kind()) {
      case Kind::null:
        out += "null";
        break;
      case Kind::boolean:
        out += n_.b ? "true" : "false";
        break;
      case Kind::integer:
        out.append(buf, std::to_chars(buf, buf + sizeof buf, int_()).ptr);
        break;
      case Kind::unsigned_integer:
        out.append(buf, std::to_chars(buf, buf + sizeof buf, n_.u).ptr);
        break;
      case Kind::real: {
        const double d = n_.d;
        if (!std::isfinite(d)) {
          out += "null";
          break;
        }
        const std::string_view s(buf, size_t(std::to_chars(buf, buf + sizeof buf, d).ptr - buf));
        out += s;
        if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
        break;
      }
      case Kind::string:
        dump_string(out, s_);
        break;
      case Kind::array: {
        out += '[';
        const Array& a = a_;
        for (size_t i = 0; i < a.size(); ++i) {
          if (i) out += ',';
          a[i].dump_to(out);
        }
        out += ']';
        break;
      }
      case Kind::object: {
        out += '{';
        const Object& o = o_;
        for (size_t i = 0; i < o.size(); ++i) {
          if (i) out += ',';
          dump_string(out, o[i].first);
          out += ':';
          o[i].second.dump_to(out);
        }
        out += '}';
        break;
      }
    }
  }

  struct Parser {
    std::string_view s;
    size_t pos;

    [[noreturn]] void fail(const char* expected) const {
      if (pos >= s.size())
        MOODNET_FAIL("JSON: expected ", expected, " at byte ", pos, ", found the end of the text");
      MOODNET_FAIL("JSON: expected ", expected, " at byte ", pos, ", found '", s[pos], "'");
    }
    void skip_space() {
      while (pos < s.size() &&
             (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t'))
        ++pos;
    }
    bool eat(char c) {
      if (pos < s.size() && s[pos] == c) {
        ++pos;
        return true;
      }
      return false;
    }
    bool eat_word(std::string_view w) {
      if (s.substr(pos, w.size()) != w) return false;
      pos += w.size();
      return true;
    }

    Value parse_value(int depth) {
      if (depth > 256) fail("at most 256 levels of nesting");
      if (pos >= s.size()) fail("a value");
      const char c = s[pos];
      if (c == '{') return parse_object(depth);
      if (c == '[') return parse_array(depth);
      if (c == '"') return Value(parse_string());
      if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
      if (eat_word("true")) return Value(true);
      if (eat_word("false")) return Value(false);
      if (eat_word("null")) return Value();
      fail("a value");
    }

    Value parse_object(int depth) {
      ++pos;  // '{'
      Value v = Value::object();
      skip_space();
      if (eat('}')) return v;
      for (;;) {
        skip_space();
        if (pos >= s.size() || s[pos] != '"') fail("a string key");
        const size_t key_at = pos;
        std::string key = parse_string();
        skip_space();
        if (!eat(':')) fail("':'");
        skip_space();
        Value x = parse_value(depth + 1);
        if (v.contains(key)) {
          pos = key_at;
          MOODNET_FAIL("JSON: key '", key, "' appears twice in one object (byte ", key_at, ")");
        }
        v[key] = std::move(x);
        skip_space();
        if (eat('}')) return v;
        if (!eat(',')) fail("',' or '}'");
      }
    }

    Value parse_array(int depth) {
      ++pos;  // '['
      Value v = Value::array();
      Array& a = v.a_;
      skip_space();
      if (eat(']')) return v;
      for (;;) {
        skip_space();
        a.push_back(parse_value(depth + 1));
        skip_space();
        if (eat(']')) return v;
        if (!eat(',')) fail("',' or ']'");
      }
    }

    unsigned hex4() {
      unsigned u = 0;
      for (int i = 0; i < 4; ++i, ++pos) {
        if (pos >= s.size()) fail("4 hex digits after \\u");
        const char c = s[pos];
        const unsigned d = c >= '0' && c <= '9'   ? unsigned(c - '0')
                           : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                           : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                                  : 16u;
        if (d == 16) fail("4 hex digits after \\u");
        u = u * 16 + d;
      }
      return u;
    }
    static void append_utf8(std::string& out, unsigned cp) {
      if (cp < 0x80) {
        out += char(cp);
      } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
      } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
      }
    }

    std::string parse_string() {
      ++pos;  // '"'
      std::string out;
      for (;;) {
        if (pos >= s.size()) fail("'\"' to close the string");
        const char c = s[pos];
        if (c == '"') {
          ++pos;
          return out;
        }
        if (static_cast<unsigned char>(c) < 0x20) fail("no control character inside a string");
        if (c != '\\') {
          out += c;
          ++pos;
          continue;
        }
        ++pos;
        if (pos >= s.size()) fail("an escape sequence");
        const char e = s[pos++];
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            unsigned cp = hex4();
            if (cp >= 0xD800 && cp < 0xDC00) {  // a UTF-16 surrogate pair
              if (!eat_word("\\u")) fail("the second half of a surrogate pair");
              const unsigned lo = hex4();
              if (lo < 0xDC00 || lo >= 0xE000) fail("a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
              fail("a high surrogate before a low one");
            }
            append_utf8(out, cp);
            break;
          }
          default:
            --pos;
            fail("an escape sequence (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
      }
    }

    Value parse_number() {
      const size_t start = pos;
      const bool negative = eat('-');
      auto digits = [&] {
        const size_t from = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        return pos - from;
      };
      const size_t int_at = pos;
      const size_t n_int = digits();
      if (n_int == 0) fail("a digit");
      if (n_int > 1 && s[int_at] == '0') {
        pos = int_at + 1;
        fail("no leading zero");
      }
      bool integral = true;
      if (eat('.')) {
        integral = false;
        if (digits() == 0) fail("a digit after '.'");
      }
      if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        integral = false;
        ++pos;
        if (!eat('+')) eat('-');
        if (digits() == 0) fail("a digit in the exponent");
      }
      const char* first = s.data() + start;
      const char* last = s.data() + pos;
      if (integral) {  // integers that overflow 64 bits are read as reals, as nlohmann::json does
        if (negative) {
          int64_t i = 0;
          if (std::from_chars(first, last, i).ec == std::errc()) return Value(i);
        } else {
          uint64_t u = 0;
          if (std::from_chars(first, last, u).ec == std::errc()) return Value(u);
        }
      }
      double d = 0;
      const auto r = std::from_chars(first, last, d);
      if (r.ec != std::errc() || r.ptr != last) {
        pos = start;
        fail("a number that fits a double");
      }
      return Value(d);
    }
  };

  // A tagged union of the scalars beside the (empty unless used) string, array and object: no
  // std::variant, whose machinery alone cost every includer more compile time than all of this.
  Kind kind_ = Kind::null;
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
  } n_{};
  std::string s_;
  Array a_;
  Object o_;
};

}  // namespace moodnet
