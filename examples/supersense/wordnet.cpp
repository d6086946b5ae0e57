// supersense/wordnet.cpp — parser of WordNet's data.noun (see wordnet.hpp).
#include "wordnet.hpp"

#include <charconv>
#include <fstream>
#include <system_error>

#include "bomf/core/error.hpp"

namespace supersense {
namespace {

/// Reads the blank-separated fields of one data.noun line, in order.
class FieldReader {
 public:
  FieldReader(std::string_view line, std::size_t line_number)
      : line_(line), line_number_(line_number) {}

  /// The next field; throws when the line ends before it. `what` names it in the message.
  std::string_view next(const char* what) {
    while (pos_ < line_.size() && line_[pos_] == ' ') {
      ++pos_;
    }
    if (pos_ >= line_.size()) {
      fail("the line ends where ", what, " was expected");
    }
    const std::size_t start = pos_;
    while (pos_ < line_.size() && line_[pos_] != ' ') {
      ++pos_;
    }
    return line_.substr(start, pos_ - start);
  }

  /// The next field as an unsigned integer in `base` (all characters must be digits).
  std::uint32_t next_number(const char* what, int base) {
    const std::string_view field = next(what);
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, base);
    if (ec != std::errc() || end != field.data() + field.size()) {
      fail(what, " is '", field, "', expected a base-", base, " number");
    }
    return value;
  }

  /// The rest of the line after the current position, leading and trailing blanks removed.
  std::string_view rest() const {
    std::size_t begin = pos_;
    while (begin < line_.size() && line_[begin] == ' ') {
      ++begin;
    }
    std::size_t end = line_.size();
    while (end > begin && (line_[end - 1] == ' ' || line_[end - 1] == '\r')) {
      --end;
    }
    return line_.substr(begin, end - begin);
  }

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    throw bomf::io_error(bomf::detail::concat("supersense::parse_noun_synset_line: line ",
                                              line_number_, ": ", args...));
  }

 private:
  std::string_view line_;
  std::size_t line_number_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string_view noun_supersense_name(int lex_filenum) {
  bomf::detail::require(lex_filenum >= kFirstNounLexFile && lex_filenum <= kLastNounLexFile,
                        "supersense::noun_supersense_name", "argument 'lex_filenum' is ",
                        lex_filenum, ", expected a noun lexicographer file number in 3..28");
  return kNounSupersenses[static_cast<std::size_t>(lex_filenum - kFirstNounLexFile)];
}

NounSynset parse_noun_synset_line(std::string_view line, std::size_t line_number) {
  FieldReader fields(line, line_number);
  NounSynset synset;
  synset.offset = fields.next_number("synset_offset", 10);
  const std::uint32_t lex = fields.next_number("lex_filenum", 10);
  if (lex < kFirstNounLexFile || lex > kLastNounLexFile) {
    fields.fail("lex_filenum is ", lex, ", expected a noun lexicographer file in 3..28");
  }
  synset.lex_filenum = static_cast<int>(lex);
  const std::string_view type = fields.next("ss_type");
  if (type != "n") {
    fields.fail("ss_type is '", type, "', expected 'n' (a noun synset)");
  }
  const std::uint32_t words = fields.next_number("w_cnt", 16);
  if (words == 0) {
    fields.fail("w_cnt is 0, expected at least one word");
  }
  for (std::uint32_t w = 0; w < words; ++w) {
    (void)fields.next("word");
    (void)fields.next_number("lex_id", 16);
  }
  const std::uint32_t pointers = fields.next_number("p_cnt", 10);
  for (std::uint32_t p = 0; p < pointers; ++p) {
    (void)fields.next("pointer_symbol");
    (void)fields.next_number("pointer synset_offset", 10);
    (void)fields.next("pointer pos");
    (void)fields.next_number("pointer source/target", 16);
  }
  const std::string_view bar = fields.next("'|' before the gloss");
  if (bar != "|") {
    fields.fail("found '", bar, "' after ", words, " words and ", pointers,
                " pointers, expected '|' before the gloss");
  }
  synset.gloss = std::string(fields.rest());
  return synset;
}

std::vector<NounSynset> parse_noun_synsets(std::istream& in, const std::string& source) {
  std::vector<NounSynset> synsets;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty() || line.rfind("  ", 0) == 0) {
      continue;  // licence header
    }
    try {
      synsets.push_back(parse_noun_synset_line(line, line_number));
    } catch (const bomf::io_error& e) {
      throw bomf::io_error(bomf::detail::concat(source, ": ", e.what()));
    }
  }
  if (in.bad()) {
    throw bomf::io_error(bomf::detail::concat("supersense::parse_noun_synsets: reading '", source,
                                              "' failed after line ", line_number));
  }
  return synsets;
}

std::vector<NounSynset> read_noun_synsets(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw bomf::io_error(bomf::detail::concat(
        "supersense::read_noun_synsets: cannot open '", path,
        "' (WordNet's noun data; install it with scripts/fetch-data.sh, which installs the "
        "Debian package wordnet-base)"));
  }
  return parse_noun_synsets(in, path);
}

}  // namespace supersense
