// supersense/wordnet.hpp — WordNet 3.0 noun synsets (glosses and supersense labels).
//
// Reads `data.noun` of the Debian package `wordnet-base` (/usr/share/wordnet/data.noun; format in
// wndb(5WN)). Every synset line is
//
//   offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} p_cnt (ptr offset pos src_tgt){p_cnt} |
//   gloss
//
// with w_cnt two hexadecimal digits, p_cnt three decimal digits and lex_filenum the number of the
// lexicographer file the synset comes from: for nouns 03..28, the noun *supersense* (noun.Tops,
// noun.act, …, noun.time; lexnames(5WN)). The licence header lines begin with two spaces.
// libtorch-free.
#pragma once

#include <array>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace supersense {

/// One noun synset: its byte offset in data.noun, its lexicographer file (supersense) and its
/// gloss (the text after "| ", trailing blanks removed; definition plus optional quoted examples).
struct NounSynset {
  std::uint32_t offset = 0;
  int lex_filenum = 0;  ///< 3..28 (see `noun_supersense_name`)
  std::string gloss;
};

/// Lexicographer file numbers of the noun files: 3 (noun.Tops) … 28 (noun.time).
inline constexpr int kFirstNounLexFile = 3;
inline constexpr int kLastNounLexFile = 28;

/// The supersense names of the 26 noun lexicographer files, index lex_filenum − 3 (lexnames(5WN)).
inline constexpr std::array<std::string_view, 26> kNounSupersenses = {
    "noun.Tops",     "noun.act",        "noun.animal",        "noun.artifact",   "noun.attribute",
    "noun.body",     "noun.cognition",  "noun.communication", "noun.event",      "noun.feeling",
    "noun.food",     "noun.group",      "noun.location",      "noun.motive",     "noun.object",
    "noun.person",   "noun.phenomenon", "noun.plant",         "noun.possession", "noun.process",
    "noun.quantity", "noun.relation",   "noun.shape",         "noun.state",      "noun.substance",
    "noun.time"};

/// The supersense name of noun lexicographer file `lex_filenum` (3..28), e.g. 5 → "noun.animal".
/// Throws `bomf::invalid_argument` for a number outside 3..28.
[[nodiscard]] std::string_view noun_supersense_name(int lex_filenum);

/// Parses one synset line of data.noun (without its newline). Throws `bomf::io_error` naming
/// `line_number` and the field at fault when the line does not follow the format above (bad
/// number, counts that run past the line, no "|" where the gloss should start, a synset type
/// other than 'n', a lexicographer file outside 3..28).
[[nodiscard]] NounSynset parse_noun_synset_line(std::string_view line, std::size_t line_number);

/// Parses a whole data.noun stream: skips the licence header (lines starting with two spaces) and
/// empty lines, parses every other line. Tolerates CRLF line ends. Throws `bomf::io_error` (see
/// `parse_noun_synset_line`); `source` names the stream in messages. Cost: one pass, ~82k lines.
[[nodiscard]] std::vector<NounSynset> parse_noun_synsets(std::istream& in,
                                                         const std::string& source = "data.noun");

/// Reads `path` (e.g. /usr/share/wordnet/data.noun). Throws `bomf::io_error` when the file cannot
/// be opened (the message says to run scripts/fetch-data.sh) or is malformed.
[[nodiscard]] std::vector<NounSynset> read_noun_synsets(const std::string& path);

/// Where Debian's `wordnet-base` installs the noun data.
inline constexpr const char* kDefaultWordNetNounPath = "/usr/share/wordnet/data.noun";

}  // namespace supersense
