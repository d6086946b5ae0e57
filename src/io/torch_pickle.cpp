#include "io/torch_pickle.hpp"

#include <ATen/core/TensorBody.h>

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf::detail {
namespace {

/// A Python value as far as bomf needs it. Lists and dicts are shared (Python's reference
/// semantics: APPEND and SETITEM modify the object every memo entry points to).
struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    none,
    boolean,
    integer,
    big_integer,
    floating,
    string,
    bytes,
    tuple,
    list,
    set,
    dict,
    global,
    storage,
    tensor,
    object
  };
  Kind kind = Kind::none;
  bool boolean = false;
  std::int64_t integer = 0;
  double floating = 0;
  std::string text;  ///< string and bytes contents; "module.name" of a global or object type
  std::vector<ValuePtr> items;                               ///< tuple, list, set
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;        ///< dict, in insertion order
  std::unordered_map<std::string, std::size_t> string_keys;  ///< dict: position of str keys
  at::Tensor tensor;                                         ///< storage (1-D) or tensor
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::none:
      return "None";
    case Value::Kind::boolean:
      return "bool";
    case Value::Kind::integer:
    case Value::Kind::big_integer:
      return "int";
    case Value::Kind::floating:
      return "float";
    case Value::Kind::string:
      return "str";
    case Value::Kind::bytes:
      return "bytes";
    case Value::Kind::tuple:
      return "tuple";
    case Value::Kind::list:
      return "list";
    case Value::Kind::set:
      return "set";
    case Value::Kind::dict:
      return "dict";
    case Value::Kind::global:
      return "global " + v.text;
    case Value::Kind::storage:
      return "storage";
    case Value::Kind::tensor:
      return "tensor";
    case Value::Kind::object:
      return v.text;
  }
  return "?";
}

void dict_set(Value& dict, ValuePtr key, ValuePtr value) {
  if (key->kind == Value::Kind::string) {
    const auto [it, fresh] = dict.string_keys.emplace(key->text, dict.entries.size());
    if (!fresh) {
      dict.entries[it->second].second = std::move(value);
      return;
    }
  }
  dict.entries.emplace_back(std::move(key), std::move(value));
}

/// The libtorch dtype of a `torch.<T>Storage` class.
std::optional<at::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"torch.DoubleStorage", at::kDouble}, {"torch.FloatStorage", at::kFloat},
      {"torch.HalfStorage", at::kHalf},     {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},     {"torch.BoolStorage", at::kBool},
      {"torch.UntypedStorage", at::kByte}};
  const auto it = kTypes.find(name);
  return it == kTypes.end() ? std::nullopt : std::optional<at::ScalarType>(it->second);
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, const TorchStorageLoader& load, const std::string& source)
      : bytes_(bytes), load_(load), source_(source) {}

  ValuePtr run() {
    for (;;) {
      const std::size_t at = pos_;
      const auto op = static_cast<unsigned char>(take(1)[0]);
      if (op == '.') {  // STOP
        if (stack_.empty()) {
          fail(at, "STOP with an empty stack");
        }
        return stack_.back();
      }
      step(op, at);
    }
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw io_error(concat("bomf::load_torch_state_dict: '", source_, "': malformed pickle at byte ",
                          at, " of data.pkl: ", what));
  }

  std::string_view take(std::size_t n) {
    if (n > bytes_.size() - pos_) {
      fail(pos_,
           concat("needs ", n, " more bytes, ", bytes_.size() - pos_, " left (truncated pickle)"));
    }
    const std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  std::uint64_t take_le(std::size_t n) {
    const std::string_view b = take(n);
    std::uint64_t out = 0;
    for (std::size_t i = 0; i < n; ++i) {
      out |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    }
    return out;
  }

  std::string take_line(std::size_t at) {
    const auto end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) {
      fail(at, "unterminated text argument");
    }
    std::string out(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }

  ValuePtr pop(std::size_t at) {
    if (stack_.size() <= floor()) {
      fail(at, "stack underflow");
    }
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }

  ValuePtr& top(std::size_t at) {
    if (stack_.size() <= floor()) {
      fail(at, "stack underflow");
    }
    return stack_.back();
  }

  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  /// Everything above the last MARK, which is removed.
  std::vector<ValuePtr> pop_to_mark(std::size_t at) {
    if (marks_.empty()) {
      fail(at, "no MARK on the stack");
    }
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> out(std::make_move_iterator(stack_.begin() + static_cast<long>(mark)),
                              std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return out;
  }

  ValuePtr tuple_of(std::vector<ValuePtr> items) {
    ValuePtr t = make(Value::Kind::tuple);
    t->items = std::move(items);
    return t;
  }

  ValuePtr string_value(Value::Kind kind, std::string_view text) {
    ValuePtr v = make(kind);
    v->text.assign(text);
    return v;
  }

  void memo_put(std::uint64_t index, std::size_t at) { memo_[index] = top(at); }

  ValuePtr memo_get(std::uint64_t index, std::size_t at) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) {
      fail(at, concat("memo entry ", index, " was never stored"));
    }
    return it->second;
  }

  ValuePtr global(std::string module, std::string name) {
    ValuePtr g = make(Value::Kind::global);
    g->text = module + "." + name;
    return g;
  }

  void step(unsigned char op, std::size_t at) {
    using K = Value::Kind;
    switch (op) {
      case 0x80:  // PROTO
        (void)take(1);
        return;
      case 0x95:  // FRAME (protocol 4): a length hint
        (void)take(8);
        return;
      case '(':  // MARK
        marks_.push_back(stack_.size());
        return;
      case '0':  // POP
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();
        } else {
          (void)pop(at);
        }
        return;
      case '1':  // POP_MARK
        (void)pop_to_mark(at);
        return;
      case '2':  // DUP
        push(top(at));
        return;
      case 'N':
        push(make(K::none));
        return;
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        ValuePtr b = make(K::boolean);
        b->boolean = op == 0x88;
        push(std::move(b));
        return;
      }
      case 'J':    // BININT (signed 32-bit)
      case 'K':    // BININT1
      case 'M': {  // BININT2
        ValuePtr i = make(K::integer);
        if (op == 'J') {
          i->integer = static_cast<std::int32_t>(static_cast<std::uint32_t>(take_le(4)));
        } else {
          i->integer = static_cast<std::int64_t>(take_le(op == 'K' ? 1 : 2));
        }
        push(std::move(i));
        return;
      }
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        const std::uint64_t n = op == 0x8a ? take_le(1) : take_le(4);
        const std::string_view b = take(static_cast<std::size_t>(n));
        ValuePtr i = make(K::integer);
        if (n > 8) {
          i->kind = K::big_integer;
        } else if (n > 0) {
          std::uint64_t u = 0;
          for (std::size_t k = 0; k < n; ++k) {
            u |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[k])) << (8 * k);
          }
          if (n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80) != 0) {
            u |= ~std::uint64_t{0} << (8 * n);  // sign extension
          }
          i->integer = static_cast<std::int64_t>(u);
        }
        push(std::move(i));
        return;
      }
      case 'G': {  // BINFLOAT, big-endian
        const std::string_view b = take(8);
        std::uint64_t u = 0;
        for (int k = 0; k < 8; ++k) {
          u = (u << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(k)]);
        }
        ValuePtr f = make(K::floating);
        std::memcpy(&f->floating, &u, sizeof(u));
        push(std::move(f));
        return;
      }
      case 'X':     // BINUNICODE
      case 0x8c:    // SHORT_BINUNICODE
      case 0x8d: {  // BINUNICODE8
        const std::uint64_t n = take_le(op == 0x8c ? 1 : op == 'X' ? 4 : 8);
        if (n > bytes_.size()) {
          fail(at, concat("string of ", n, " bytes in a pickle of ", bytes_.size()));
        }
        push(string_value(K::string, take(static_cast<std::size_t>(n))));
        return;
      }
      case 'T':     // BINSTRING (Python 2 str)
      case 'U':     // SHORT_BINSTRING
      case 'B':     // BINBYTES
      case 'C':     // SHORT_BINBYTES
      case 0x8e:    // BINBYTES8
      case 0x96: {  // BYTEARRAY8
        const std::size_t width = (op == 'U' || op == 'C') ? 1 : (op == 'T' || op == 'B') ? 4 : 8;
        const std::uint64_t n = take_le(width);
        if (n > bytes_.size()) {
          fail(at, concat("bytes of length ", n, " in a pickle of ", bytes_.size()));
        }
        push(string_value(op == 'T' || op == 'U' ? K::string : K::bytes,
                          take(static_cast<std::size_t>(n))));
        return;
      }
      case ')':
        push(tuple_of({}));
        return;
      case 't':
        push(tuple_of(pop_to_mark(at)));
        return;
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const std::size_t n = op - 0x84u;
        std::vector<ValuePtr> items(n);
        for (std::size_t k = n; k-- > 0;) {
          items[k] = pop(at);
        }
        push(tuple_of(std::move(items)));
        return;
      }
      case ']':
        push(make(K::list));
        return;
      case 'l': {
        ValuePtr l = make(K::list);
        l->items = pop_to_mark(at);
        push(std::move(l));
        return;
      }
      case 0x8f:  // EMPTY_SET
        push(make(K::set));
        return;
      case 0x91: {  // FROZENSET
        ValuePtr s = make(K::set);
        s->items = pop_to_mark(at);
        push(std::move(s));
        return;
      }
      case 'a': {  // APPEND
        ValuePtr item = pop(at);
        ValuePtr& list = top(at);
        if (list->kind != K::list) {
          fail(at, concat("APPEND to a ", type_name(*list)));
        }
        list->items.push_back(std::move(item));
        return;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS
        std::vector<ValuePtr> items = pop_to_mark(at);
        ValuePtr& target = top(at);
        if (target->kind != (op == 'e' ? K::list : K::set)) {
          fail(at, concat(op == 'e' ? "APPENDS to a " : "ADDITEMS to a ", type_name(*target)));
        }
        for (auto& item : items) {
          target->items.push_back(std::move(item));
        }
        return;
      }
      case '}':
        push(make(K::dict));
        return;
      case 'd': {
        std::vector<ValuePtr> items = pop_to_mark(at);
        ValuePtr d = make(K::dict);
        set_items(*d, std::move(items), at);
        push(std::move(d));
        return;
      }
      case 's': {  // SETITEM
        ValuePtr value = pop(at);
        ValuePtr key = pop(at);
        ValuePtr& d = top(at);
        if (d->kind != K::dict) {
          fail(at, concat("SETITEM on a ", type_name(*d)));
        }
        dict_set(*d, std::move(key), std::move(value));
        return;
      }
      case 'u': {  // SETITEMS
        std::vector<ValuePtr> items = pop_to_mark(at);
        ValuePtr& d = top(at);
        if (d->kind != K::dict) {
          fail(at, concat("SETITEMS on a ", type_name(*d)));
        }
        set_items(*d, std::move(items), at);
        return;
      }
      case 'q':  // BINPUT
        memo_put(take_le(1), at);
        return;
      case 'r':  // LONG_BINPUT
        memo_put(take_le(4), at);
        return;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size(), at);
        return;
      case 'h':  // BINGET
        push(memo_get(take_le(1), at));
        return;
      case 'j':  // LONG_BINGET
        push(memo_get(take_le(4), at));
        return;
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = take_line(at);
        std::string name = take_line(at);
        push(global(std::move(module), std::move(name)));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop(at);
        ValuePtr module = pop(at);
        if (name->kind != K::string || module->kind != K::string) {
          fail(at, "STACK_GLOBAL needs two strings");
        }
        push(global(module->text, name->text));
        return;
      }
      case 'R': {  // REDUCE
        ValuePtr args = pop(at);
        ValuePtr callable = pop(at);
        if (args->kind != K::tuple) {
          fail(at, concat("REDUCE with arguments of type ", type_name(*args)));
        }
        push(reduce(*callable, args->items, at));
        return;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        (void)pop(at);
        ValuePtr cls = pop(at);
        push(opaque(*cls));
        return;
      }
      case 0x92: {  // NEWOBJ_EX
        (void)pop(at);
        (void)pop(at);
        ValuePtr cls = pop(at);
        push(opaque(*cls));
        return;
      }
      case 'b': {  // BUILD: sets the state of the object below (OrderedDict._metadata, ...)
        (void)pop(at);
        (void)top(at);
        return;
      }
      case 'Q': {  // BINPERSID
        ValuePtr pid = pop(at);
        push(persistent_load(*pid, at));
        return;
      }
      case 0x97:  // NEXT_BUFFER
      case 0x98:  // READONLY_BUFFER
        fail(at, "out-of-band buffers (pickle protocol 5) are not used by torch.save");
      default:
        break;
    }
    if (op == 'F' || op == 'I' || op == 'L' || op == 'S' || op == 'V' || op == 'P' || op == 'g' ||
        op == 'p' || op == 'i' || op == 'o' || op == 0x82 || op == 0x83 || op == 0x84) {
      fail(at, concat("opcode '", static_cast<char>(op),
                      "' (pickle protocol 0/1 text or extension registry) is not read; "
                      "torch.save writes protocol 2 unless told otherwise"));
    }
    fail(at, concat("unknown opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15]));
  }

  void set_items(Value& dict, std::vector<ValuePtr> items, std::size_t at) {
    if (items.size() % 2 != 0) {
      fail(at, "an odd number of items for a dict");
    }
    for (std::size_t k = 0; k < items.size(); k += 2) {
      dict_set(dict, std::move(items[k]), std::move(items[k + 1]));
    }
  }

  static ValuePtr opaque(const Value& cls) {
    ValuePtr o = make(Value::Kind::object);
    o->text = cls.kind == Value::Kind::global ? cls.text : "object";
    return o;
  }

  std::int64_t integer_arg(const ValuePtr& v, const char* what, std::size_t at) {
    if (v->kind != Value::Kind::integer && v->kind != Value::Kind::boolean) {
      fail(at, concat(what, " is a ", type_name(*v), ", expected an int"));
    }
    return v->kind == Value::Kind::boolean ? static_cast<std::int64_t>(v->boolean) : v->integer;
  }

  std::vector<std::int64_t> shape_arg(const ValuePtr& v, const char* what, std::size_t at) {
    if (v->kind != Value::Kind::tuple && v->kind != Value::Kind::list) {
      fail(at, concat(what, " is a ", type_name(*v), ", expected a tuple of ints"));
    }
    std::vector<std::int64_t> out;
    for (const auto& item : v->items) {
      const std::int64_t x = integer_arg(item, what, at);
      if (x < 0) {
        fail(at, concat(what, " holds ", x, ", expected non-negative values"));
      }
      out.push_back(x);
    }
    return out;
  }

  /// torch._utils._rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...).
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, std::size_t at) {
    if (args.size() < 4 || args[0]->kind != Value::Kind::storage) {
      fail(at, "_rebuild_tensor needs (storage, offset, size, stride, ...)");
    }
    const at::Tensor& storage = args[0]->tensor;
    const std::int64_t offset = integer_arg(args[1], "storage_offset", at);
    const std::vector<std::int64_t> size = shape_arg(args[2], "size", at);
    const std::vector<std::int64_t> stride = shape_arg(args[3], "stride", at);
    if (size.size() != stride.size()) {
      fail(at, concat("size has ", size.size(), " dimensions but stride ", stride.size()));
    }
    if (offset < 0) {
      fail(at, concat("storage_offset ", offset, " is negative"));
    }
    // The last element reached: offset + Σ (size_k − 1) · stride_k, overflow-checked.
    bool empty = false;
    auto last = static_cast<std::uint64_t>(offset);
    bool overflow = false;
    for (std::size_t k = 0; k < size.size(); ++k) {
      empty = empty || size[k] == 0;
      std::uint64_t term = 0;
      if (size[k] > 0) {
        overflow = overflow ||
                   __builtin_mul_overflow(static_cast<std::uint64_t>(size[k] - 1),
                                          static_cast<std::uint64_t>(stride[k]), &term) ||
                   __builtin_add_overflow(last, term, &last);
      }
    }
    const auto numel = static_cast<std::uint64_t>(storage.numel());
    if (!empty && (overflow || last >= numel)) {
      fail(at,
           concat("a tensor of size ", args[2]->items.size(), "-d reaches beyond its storage of ",
                  numel, " elements (offset ", offset, ")"));
    }
    if (empty && static_cast<std::uint64_t>(offset) > numel) {
      fail(at, concat("storage_offset ", offset, " is beyond a storage of ", numel, " elements"));
    }
    ValuePtr t = make(Value::Kind::tensor);
    t->tensor = storage.as_strided(size, stride, offset);
    return t;
  }

  ValuePtr reduce(const Value& callable, const std::vector<ValuePtr>& args, std::size_t at) {
    if (callable.kind != Value::Kind::global) {
      fail(at, concat("REDUCE calls a ", type_name(callable), ", expected a global"));
    }
    const std::string& f = callable.text;
    if (f == "collections.OrderedDict") {
      ValuePtr d = make(Value::Kind::dict);
      if (!args.empty()) {  // OrderedDict([(key, value), ...])
        if (args[0]->kind != Value::Kind::list && args[0]->kind != Value::Kind::tuple) {
          fail(at, "OrderedDict(...) with an argument that is not a list of pairs");
        }
        for (const auto& pair : args[0]->items) {
          if (pair->kind != Value::Kind::tuple || pair->items.size() != 2) {
            fail(at, "OrderedDict(...) with an item that is not a pair");
          }
          dict_set(*d, pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
      return rebuild_tensor(args, at);
    }
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state" ||
        f == "torch.jit._pickle.restore_type_tag") {
      if (args.empty()) {
        fail(at, concat(f, " without arguments"));
      }
      return args[0];  // the tensor (or value) itself; requires_grad and hooks do not matter
    }
    if (f == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state)
      if (args.size() < 3 || args[2]->kind != Value::Kind::tuple) {
        fail(at, "_rebuild_from_type_v2 needs (func, type, args, state)");
      }
      return reduce(*args[0], args[2]->items, at);
    }
    if (f.rfind("torch.jit._pickle.build_", 0) == 0 && args.size() == 1) {
      return args[0];  // build_intlist, build_tensorlist, ...: the list itself
    }
    if (f == "torch._utils._rebuild_qtensor" || f == "torch._utils._rebuild_sparse_tensor" ||
        f == "torch._utils._rebuild_sparse_csr_tensor" ||
        f == "torch._utils._rebuild_meta_tensor_no_storage" ||
        f == "torch._utils._rebuild_wrapper_subclass" ||
        f == "torch._utils._rebuild_device_tensor_from_numpy") {
      throw io_error(concat("bomf::load_torch_state_dict: '", source_, "' holds a tensor built by ",
                            f, " (quantized, sparse, meta or subclass tensors are not read)"));
    }
    ValuePtr o = make(Value::Kind::object);
    o->text = f;
    return o;
  }

  ValuePtr persistent_load(const Value& pid, std::size_t at) {
    if (pid.kind != Value::Kind::tuple || pid.items.size() < 5 ||
        pid.items[0]->kind != Value::Kind::string || pid.items[0]->text != "storage") {
      fail(at, "a persistent id that is not ('storage', type, key, location, numel)");
    }
    const Value& type = *pid.items[1];
    const Value& key = *pid.items[2];
    if (type.kind != Value::Kind::global || key.kind != Value::Kind::string) {
      fail(at, "a storage persistent id without a storage type and a string key");
    }
    const std::int64_t numel = integer_arg(pid.items[4], "storage numel", at);
    if (numel < 0) {
      fail(at, concat("storage '", key.text, "' has ", numel, " elements"));
    }
    const auto dtype = storage_dtype(type.text);
    if (!dtype) {
      throw io_error(concat("bomf::load_torch_state_dict: '", source_, "' holds a storage of type ",
                            type.text, ", which bomf cannot hold (complex or quantized)"));
    }
    const auto it = storages_.find(key.text);
    if (it != storages_.end()) {
      return it->second;
    }
    ValuePtr s = make(Value::Kind::storage);
    s->tensor = load_(key.text, *dtype, numel);
    storages_.emplace(key.text, s);
    return s;
  }

  std::string_view bytes_;
  const TorchStorageLoader& load_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
};

std::string describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::integer:
      return concat("an int (", v.integer, ")");
    case Value::Kind::floating:
      return concat("a float (", v.floating, ")");
    case Value::Kind::string:
      return concat("a str ('", v.text.size() > 40 ? v.text.substr(0, 40) + "…" : v.text, "')");
    case Value::Kind::dict:
      return concat("a dict of ", v.entries.size(),
                    " entries (a training checkpoint? pass the model's state_dict itself)");
    case Value::Kind::none:
      return "None";
    default:
      return "a " + type_name(v);
  }
}

}  // namespace

UnpickledStateDict unpickle_state_dict(std::string_view bytes, const TorchStorageLoader& load,
                                       const std::string& source) {
  Unpickler unpickler(bytes, load, source);
  const ValuePtr root = unpickler.run();
  UnpickledStateDict out;
  if (root->kind != Value::Kind::dict) {
    out.top_level_type = type_name(*root);
    return out;
  }
  StateDict state_dict;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Value::Kind::string) {
      throw io_error(concat("bomf::load_torch_state_dict: '", source, "' has a key of type ",
                            type_name(*key), ", expected str keys (a state dict)"));
    }
    if (value->kind != Value::Kind::tensor) {
      throw io_error(concat("bomf::load_torch_state_dict: '", source, "' entry '", key->text,
                            "' holds ", describe(*value), ", expected a tensor"));
    }
    state_dict.insert(key->text, value->tensor);
  }
  out.state_dict = std::move(state_dict);
  return out;
}

}  // namespace bomf::detail
