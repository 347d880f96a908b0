#include "problems/problem_file_json.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/errors.hpp"
#include "core/input_file.hpp"

namespace snode::problems {
namespace {

std::string TypeName(const Json& value) {
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error…"
// without the part before the description (and "[json.exception.out_of_range.406] number
// overflow…" without the bracket).
std::string ParseErrorDetail(const std::string& what) {
  const std::size_t column = what.find("column ");
  if (column == std::string::npos) {
    const std::size_t bracket = what.find("] ");
    return bracket == std::string::npos ? what : what.substr(bracket + 2);
  }
  const std::size_t colon = what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// A parser callback that refuses an object with the same key twice (JSON allows it and the
// parser would keep the last silently: {"A": 1, "A": 2} in a reaction). Tracks the path so the
// error names the place.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const JsonReader& reader) : reader_(&reader) {}

  bool operator()(int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        frames_.push_back(Frame{event == Json::parse_event_t::object_start, {}, {}, 0});
        break;
      case Json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) {
          reader_->Fail(JsonPointer(Path(), top.key), "the key appears twice in this object");
        }
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames_.pop_back();
        NextElement();
        break;
      case Json::parse_event_t::value:
        NextElement();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;    // the current key (object)
    std::size_t index;  // the current element (array)
  };

  void NextElement() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }
  // The pointer of the innermost open object or array.
  std::string Path() const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      path = frames_[i].object ? JsonPointer(path, frames_[i].key)
                               : JsonPointer(path, frames_[i].index);
    }
    return path;
  }

  const JsonReader* reader_;
  std::vector<Frame> frames_;
};

}  // namespace

std::string JsonPointer(const std::string& parent, const std::string& key) {
  std::string escaped;
  for (const char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return parent + "/" + escaped;
}

std::string JsonPointer(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

void JsonReader::Fail(const std::string& pointer, const std::string& message) const {
  throw InputError(path_ + ": " + (pointer.empty() ? std::string("/") : pointer) + ": " + message);
}

Json JsonReader::ReadFile(long long max_bytes) const {
  switch (KindOfInputFile(path_)) {
    case InputFileKind::kMissing:
      throw InputError(path_ + ": problem file not found");
    case InputFileKind::kDirectory:
      throw InputError(path_ + ": is a directory, not a problem file");
    case InputFileKind::kNotRegular:
      throw InputError(path_ + ": is not a regular file (a device or a pipe)");
    case InputFileKind::kRegular:
      break;
  }
  // At most one byte over the limit is read: the size on disk is not trusted.
  const std::string text =
      ReadInputFilePrefix(path_, static_cast<std::size_t>(max_bytes), path_ + ": problem file");
  if (text.size() > static_cast<std::size_t>(max_bytes)) {
    throw InputError(path_ + ": problem file is over the limit of " + std::to_string(max_bytes) +
                     " bytes");
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(path_ + ": problem file is empty");
  }
  Json json;
  try {
    json = Json::parse(text, DuplicateKeyCheck(*this));
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based position of the last character read.
    const std::size_t end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw InputError(path_ + ": line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": not valid JSON: " + ParseErrorDetail(e.what()));
  } catch (const Json::exception& e) {  // e.g. a number beyond the range of a double
    throw InputError(path_ + ": not valid JSON: " + ParseErrorDetail(e.what()));
  }
  if (!json.is_object()) Fail("", "a problem file must be a JSON object, not " + TypeName(json));
  return json;
}

void JsonReader::CheckKeys(const Json& object, const std::string& pointer,
                           std::initializer_list<const char*> allowed) const {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    std::string list;
    for (const char* key : allowed) {
      known = known || it.key() == key;
      list += (list.empty() ? "" : ", ") + std::string(key);
    }
    if (!known)
      Fail(JsonPointer(pointer, it.key()), "unknown field (expected one of: " + list + ")");
  }
}

const Json& JsonReader::Required(const Json& object, const std::string& pointer,
                                 const char* key) const {
  const Json* value = Optional(object, key);
  if (value == nullptr) Fail(JsonPointer(pointer, key), "required field is missing");
  return *value;
}

const Json* JsonReader::Optional(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const Json& JsonReader::Object(const Json& value, const std::string& pointer) const {
  if (!value.is_object()) Fail(pointer, "must be an object, not " + TypeName(value));
  return value;
}

const Json& JsonReader::Array(const Json& value, const std::string& pointer,
                              std::size_t max_size) const {
  if (!value.is_array()) Fail(pointer, "must be an array, not " + TypeName(value));
  if (value.empty()) Fail(pointer, "must not be empty");
  if (value.size() > max_size) {
    Fail(pointer, "has " + std::to_string(value.size()) + " entries, over the limit of " +
                      std::to_string(max_size));
  }
  return value;
}

std::string JsonReader::String(const Json& value, const std::string& pointer) const {
  if (!value.is_string()) Fail(pointer, "must be a string, not " + TypeName(value));
  return value.get<std::string>();
}

double JsonReader::Number(const Json& value, const std::string& pointer) const {
  if (value.is_object() && value.contains("lambda")) Coef(value, pointer, false);
  if (!value.is_number()) Fail(pointer, "must be a number, not " + TypeName(value));
  const double x = value.get<double>();
  if (!std::isfinite(x)) Fail(pointer, "must be a finite number");
  return x;
}

int JsonReader::Integer(const Json& value, const std::string& pointer, int min, int max) const {
  const double x = Number(value, pointer);
  if (x != std::floor(x) || x < min || x > max) {
    Fail(pointer, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                      ", not " + value.dump());
  }
  return static_cast<int>(x);
}

Coefficient JsonReader::Coef(const Json& value, const std::string& pointer,
                             bool allow_lambda) const {
  if (!value.is_object()) return Coefficient{Number(value, pointer), false};
  if (!allow_lambda) {
    Fail(pointer,
         "a {\"lambda\": c} coefficient is not allowed here (only rates, initial "
         "amounts, matrix and offset entries and t_end may carry λ)");
  }
  CheckKeys(value, pointer, {"lambda"});
  const Coefficient coefficient{Number(Required(value, pointer, "lambda"), pointer + "/lambda"),
                                true};
  if (first_lambda_.empty()) first_lambda_ = pointer;
  return coefficient;
}

}  // namespace snode::problems
