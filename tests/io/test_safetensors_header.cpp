// The safetensors header parser on untrusted bytes (libtorch-free; runs under the sanitizers).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/io/safetensors_header.hpp"

namespace bomf {
namespace {

using Bytes = std::vector<unsigned char>;

/// A file: 8-byte length, the given header text, then `data_bytes` zero bytes.
Bytes file_with_header(const std::string& json, std::size_t data_bytes) {
  Bytes out(8 + json.size() + data_bytes, 0);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<unsigned char>(n >> (8 * i));
  }
  std::memcpy(out.data() + 8, json.data(), json.size());
  return out;
}

SafetensorsHeader parse(const Bytes& bytes) {
  return parse_safetensors_header(bytes.data(), bytes.size(), "test.safetensors");
}

/// The io_error message of parsing `bytes` ("" if it parses).
std::string error_of(const Bytes& bytes) {
  try {
    (void)parse(bytes);
  } catch (const io_error& e) {
    return e.what();
  }
  return "";
}

Bytes valid_file() {
  std::vector<SafetensorsTensorInfo> tensors(3);
  tensors[0] = {"w", SafetensorsDtype::F32, {2, 3}, 0, 24};
  tensors[1] = {"b", SafetensorsDtype::BF16, {3}, 24, 30};
  tensors[2] = {"ids", SafetensorsDtype::I64, {1}, 30, 38};
  const std::string header = serialize_safetensors_header(tensors, {{"format", "pt"}});
  Bytes out(header.begin(), header.end());
  for (int i = 0; i < 38; ++i) {
    out.push_back(static_cast<unsigned char>(i));
  }
  return out;
}

TEST(SafetensorsHeader, SerializeThenParseRoundTrips) {
  const Bytes bytes = valid_file();
  const SafetensorsHeader header = parse(bytes);
  EXPECT_EQ(header.data_offset % 8, 0u);
  EXPECT_EQ(header.data_size, 38u);
  ASSERT_EQ(header.tensors.size(), 3u);
  EXPECT_EQ(header.tensors[0].name, "w");  // data order
  EXPECT_EQ(header.tensors[1].name, "b");
  EXPECT_EQ(header.tensors[2].name, "ids");
  const SafetensorsTensorInfo* b = header.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, SafetensorsDtype::BF16);
  EXPECT_EQ(b->shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(b->begin, 24u);
  EXPECT_EQ(b->end, 30u);
  EXPECT_EQ(header.find("missing"), nullptr);
  EXPECT_EQ(header.metadata.at("format"), "pt");
}

TEST(SafetensorsHeader, DtypeNamesAndSizes) {
  for (const char* name : {"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
                           "F64", "I64", "U64", "F8_E4M3", "F8_E5M2"}) {
    const auto dtype = safetensors_dtype_from_name(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_STREQ(safetensors_dtype_name(*dtype), name);
  }
  EXPECT_EQ(safetensors_dtype_size(SafetensorsDtype::BF16), 2u);
  EXPECT_EQ(safetensors_dtype_size(SafetensorsDtype::F64), 8u);
  EXPECT_FALSE(safetensors_dtype_from_name("f32").has_value());
}

TEST(SafetensorsHeader, AcceptsEmptyScalarZeroSizeAndGaps) {
  EXPECT_EQ(error_of(file_with_header("{}", 0)), "");
  EXPECT_EQ(
      error_of(file_with_header(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", 8)),
      "");
  EXPECT_EQ(error_of(file_with_header(R"({"z":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},)"
                                      R"("a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                      R"("g":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                                      8)),
            "");
}

struct BadCase {
  const char* what;
  Bytes bytes;
  const char* expected;  // a fragment of the message
};

TEST(SafetensorsHeader, RejectsEveryMalformedCaseWithAClearMessage) {
  const auto entry = [](const std::string& body, std::size_t data) {
    return file_with_header(R"({"t":)" + body + "}", data);
  };
  Bytes too_long = file_with_header("{}", 0);
  too_long[0] = 200;  // header length 200 > 2 remaining bytes
  Bytes huge = file_with_header("{}", 0);
  huge[7] = 1;  // 2^56
  const std::vector<BadCase> cases = {
      {"empty file", Bytes{}, "truncated"},
      {"7 bytes", Bytes(7, 0), "truncated"},
      {"header length beyond the file", too_long, "larger than"},
      {"header length beyond the limit", huge, "exceeds the limit"},
      {"malformed JSON", file_with_header("{\"t\": ", 0), "not valid JSON"},
      {"not an object", file_with_header("[1, 2]", 0), "not a JSON object"},
      {"entry not an object", file_with_header(R"({"t": 3})", 0), "is not an object"},
      {"missing dtype", entry(R"({"shape":[1],"data_offsets":[0,4]})", 4), "dtype"},
      {"dtype not a string", entry(R"({"dtype":1,"shape":[1],"data_offsets":[0,4]})", 4), "dtype"},
      {"unknown dtype", entry(R"({"dtype":"F128","shape":[1],"data_offsets":[0,16]})", 16),
       "unknown dtype 'F128'"},
      {"missing shape", entry(R"({"dtype":"F32","data_offsets":[0,4]})", 4), "shape"},
      {"negative extent", entry(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4),
       "non-negative integer"},
      {"fractional extent", entry(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4),
       "non-negative integer"},
      {"missing offsets", entry(R"({"dtype":"F32","shape":[1]})", 4), "data_offsets"},
      {"one offset", entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), "data_offsets"},
      {"negative offset", entry(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4),
       "data_offsets"},
      {"begin after end", entry(R"({"dtype":"U8","shape":[0],"data_offsets":[4,0]})", 4),
       "outside the data section"},
      {"end past the data", entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 4),
       "outside the data section"},
      {"huge offsets",
       entry(R"({"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]})", 4),
       "outside the data section"},
      {"count vs bytes", entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", 8),
       "needs 12 bytes"},
      {"overflowing shape",
       entry(R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]})", 8),
       "overflows"},
      {"overlap",
       file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        12),
       "overlap"},
      {"duplicate key",
       file_with_header(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                        R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                        2),
       "more than once"},
      {"deep nesting",
       file_with_header("{\"t\":" + std::string(1000, '[') + std::string(1000, ']') + "}", 0),
       "nests deeper"},
      {"a fourth level", file_with_header(R"({"t":{"shape":[[1]]}})", 0), "nests deeper"},
      {"empty header", file_with_header("", 0), "it is empty"},
      {"byte-order mark", file_with_header("\xEF\xBB\xBF{}", 0), "begins with byte 0xEF"},
      {"leading space", file_with_header(" {}", 0), "begins with byte 0x20 (' ')"},
      {"NUL padding", file_with_header(std::string("{}\0\0", 4), 0), "NUL byte at offset 10"},
      {"NUL in a key", file_with_header(std::string("{\"a\0\":1}", 9), 0), "NUL byte at offset 11"},
      {"trailing text", file_with_header("{} x", 0), "not valid JSON"},
      {"invalid UTF-8 key", file_with_header("{\"\xFF\":{}}", 0), "not valid JSON"},
      {"metadata not an object", file_with_header(R"({"__metadata__": 3})", 0), "__metadata__"},
      {"metadata value not a string", file_with_header(R"({"__metadata__": {"k": 1}})", 0),
       "not a string"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.bytes);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": got '" << message << "'";
    EXPECT_NE(message.find("test.safetensors"), std::string::npos) << c.what;
  }
}

TEST(SafetensorsHeader, EveryTruncationIsAnErrorNotACrash) {
  const Bytes bytes = valid_file();
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    // Copy the prefix into an exactly sized buffer so sanitizers catch any overread.
    const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_THROW((void)parse(prefix), io_error) << "prefix of " << size << " bytes";
  }
}

TEST(SafetensorsHeader, EverySingleByteCorruptionParsesOrThrowsIoError) {
  const Bytes bytes = valid_file();
  int rejected = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char value : {0x00, 0x22, 0x7B, 0xFF}) {
      Bytes corrupt = bytes;
      corrupt[i] = value;
      try {
        const SafetensorsHeader header = parse(corrupt);
        for (const auto& t : header.tensors) {  // whatever parsed must be in bounds
          EXPECT_LE(t.end, header.data_size);
          EXPECT_EQ(t.nbytes(), t.numel() * safetensors_dtype_size(t.dtype));
        }
      } catch (const io_error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(SafetensorsHeader, SerializerRejectsInvalidTensors) {
  std::vector<SafetensorsTensorInfo> tensors(1);
  tensors[0] = {"__metadata__", SafetensorsDtype::F32, {1}, 0, 4};
  EXPECT_THROW((void)serialize_safetensors_header(tensors, {}), invalid_argument);
  tensors[0] = {"w", SafetensorsDtype::F32, {2}, 0, 4};
  EXPECT_THROW((void)serialize_safetensors_header(tensors, {}), invalid_argument);
  tensors.push_back({"w", SafetensorsDtype::F32, {1}, 4, 8});
  tensors[0].end = 8;
  EXPECT_THROW((void)serialize_safetensors_header(tensors, {}), invalid_argument);
  tensors = {{"bad \xFF name", SafetensorsDtype::F32, {1}, 0, 4}};
  try {
    (void)serialize_safetensors_header(tensors, {});
    ADD_FAILURE() << "a name that is not UTF-8 was serialized";
  } catch (const invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor name \"bad"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsHeader, PaddingSpacesAndEscapedNamesRoundTrip) {
  EXPECT_EQ(error_of(file_with_header("{}      ", 0)), "");
  std::vector<SafetensorsTensorInfo> tensors = {
      {"quote\" back\\ slash", SafetensorsDtype::U8, {1}, 0, 1},
      {"ünïcödé.weight", SafetensorsDtype::U8, {1}, 1, 2},
      {"control\x01", SafetensorsDtype::U8, {1}, 2, 3}};
  const std::string text =
      serialize_safetensors_header(tensors, {{"k\"ey", "va\nlue"}}) + std::string(3, '\0');
  const SafetensorsHeader header =
      parse(Bytes(reinterpret_cast<const unsigned char*>(text.data()),
                  reinterpret_cast<const unsigned char*>(text.data()) + text.size()));
  for (const auto& info : tensors) {
    EXPECT_NE(header.find(info.name), nullptr) << info.name;
  }
  EXPECT_EQ(header.metadata.at("k\"ey"), "va\nlue");
}

TEST(SafetensorsHeader, ManyTensorsRoundTrip) {
  // 200000 entries (a 14 MB header) parse and serialize correctly. Their cost (linear; the
  // replaced parser and serializer were quadratic) is measured by bench/io, not here.
  constexpr std::size_t kTensors = 200000;
  std::vector<SafetensorsTensorInfo> tensors(kTensors);
  for (std::size_t i = 0; i < kTensors; ++i) {
    tensors[i] = {
        "layer." + std::to_string(i) + ".weight", SafetensorsDtype::F32, {2}, 8 * i, 8 * i + 8};
  }
  const std::string text = serialize_safetensors_header(tensors, {});
  Bytes bytes(text.begin(), text.end());
  bytes.resize(bytes.size() + 8 * kTensors);
  const SafetensorsHeader header = parse(bytes);
  ASSERT_EQ(header.tensors.size(), kTensors);
  for (std::size_t i = 0; i < kTensors; i += 9973) {
    const SafetensorsTensorInfo* info = header.find(tensors[i].name);
    ASSERT_NE(info, nullptr) << tensors[i].name;
    EXPECT_EQ(info->begin, 8 * i);
  }
}

}  // namespace
}  // namespace bomf
