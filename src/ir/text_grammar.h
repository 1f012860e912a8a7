// The IR text grammar: one PEGTL rule per definition of grammar/ir.peg, same names, same order.
// `must<>` marks the points after which an item is committed; `kIrErrorMessage<Rule>` words the
// error raised when a committed element fails.
#pragma once

#include <tao/pegtl.hpp>

namespace qrules::ir_grammar {

namespace pegtl = tao::pegtl;
using pegtl::alpha;
using pegtl::any;
using pegtl::at;
using pegtl::digit;
using pegtl::eof;
using pegtl::if_must;
using pegtl::list;
using pegtl::must;
using pegtl::not_at;
using pegtl::not_one;
using pegtl::one;
using pegtl::opt;
using pegtl::plus;
using pegtl::ranges;
using pegtl::seq;
using pegtl::sor;
using pegtl::star;

// --- tokens (defined first for C++; same definitions as the tail of ir.peg) ----------------------
struct idchar : ranges<'A', 'Z', 'a', 'z', '0', '9', '_', '_'> {};
struct eol : seq<opt<one<'\r'>>, one<'\n'>> {};
struct comment : seq<one<'#'>, star<not_at<eol>, any>> {};
struct space : one<' ', '\t', '\r', '\n'> {};
struct skip : star<sor<space, comment>> {};
struct identifier : seq<ranges<'A', 'Z', 'a', 'z', '_', '_'>, star<idchar>> {};
struct escape : seq<one<'\\'>, one<'"', '\\', 'n', 't'>> {};
struct string : seq<one<'"'>, star<sor<escape, seq<not_at<one<'"', '\\'>>, not_at<eol>, any>>>, must<one<'"'>>> {};
struct exponent : seq<one<'e', 'E'>, opt<one<'+', '-'>>, plus<digit>> {};
struct decimal : seq<sor<seq<plus<digit>, opt<one<'.'>, star<digit>>>, seq<one<'.'>, plus<digit>>>, opt<exponent>> {};
struct number : seq<opt<one<'-'>>, sor<decimal, pegtl::string<'i', 'n', 'f'>, pegtl::string<'n', 'a', 'n'>>> {};
struct integer : seq<opt<one<'-'>>, plus<digit>> {};

template <typename Word>
struct keyword : seq<Word, not_at<idchar>> {};
struct kw_qrules_ir : keyword<pegtl::string<'q', 'r', 'u', 'l', 'e', 's', '-', 'i', 'r'>> {};
struct kw_module : keyword<pegtl::string<'m', 'o', 'd', 'u', 'l', 'e'>> {};
struct kw_input : keyword<pegtl::string<'i', 'n', 'p', 'u', 't'>> {};
struct kw_state : keyword<pegtl::string<'s', 't', 'a', 't', 'e'>> {};
struct kw_owner : keyword<pegtl::string<'o', 'w', 'n', 'e', 'r'>> {};
struct kw_local : keyword<pegtl::string<'l', 'o', 'c', 'a', 'l'>> {};
struct kw_output : keyword<pegtl::string<'o', 'u', 't', 'p', 'u', 't'>> {};
struct kw_op : keyword<pegtl::string<'o', 'p'>> {};
struct kw_in : keyword<pegtl::string<'i', 'n'>> {};
struct kw_onnx : keyword<pegtl::string<'o', 'n', 'n', 'x'>> {};
struct kw_weight_axes : keyword<pegtl::string<'w', 'e', 'i', 'g', 'h', 't', '_', 'a', 'x', 'e', 's'>> {};
struct kw_tensor : keyword<pegtl::string<'t', 'e', 'n', 's', 'o', 'r'>> {};

// --- tensors --------------------------------------------------------------------------------------
struct tensor_name : sor<identifier, string> {};
struct dtype : identifier {};
struct unknown_dim : one<'?'> {};
struct dim_symbol : identifier {};
struct dim : sor<integer, unknown_dim, dim_symbol> {};
struct shape : seq<one<'['>, skip, opt<dim, skip, star<one<','>, skip, must<dim>, skip>>, must<one<']'>>> {};
struct tensor_type : seq<dtype, skip, opt<shape>> {};
struct data_list
    : seq<one<'['>, skip, opt<number, skip, star<one<','>, skip, must<number>, skip>>, must<one<']'>>> {};

// --- modules --------------------------------------------------------------------------------------
struct module_name : string {};
struct module_type : string {};
struct module_type_clause : seq<one<':'>, skip, must<module_type>> {};
struct module_decl : seq<kw_module, skip, must<module_name>, skip, opt<module_type_clause>> {};

struct input_decl : seq<kw_input, skip, must<tensor_name>, skip, must<one<':'>>, skip, must<tensor_type>> {};
struct state_type_clause : seq<one<':'>, skip, must<tensor_type>, skip> {};
struct owner_clause : seq<kw_owner, skip, must<module_name>, skip> {};
struct local_name : sor<string, identifier> {};
struct local_clause : seq<kw_local, skip, must<local_name>, skip> {};
struct data_clause : seq<one<'='>, skip, must<data_list>> {};
struct state_decl : seq<kw_state, skip, must<tensor_name>, skip, opt<state_type_clause>, opt<owner_clause>,
                        opt<local_clause>, opt<data_clause>> {};
struct output_decl : seq<kw_output, skip, must<tensor_name>> {};

// --- ops ------------------------------------------------------------------------------------------
struct op_type : sor<identifier, string> {};
struct op_name : seq<string, skip> {};
struct op_module_clause : seq<kw_in, skip, must<module_name>, skip> {};
struct onnx_type : sor<string, identifier> {};
struct onnx_clause : seq<kw_onnx, skip, must<onnx_type>, skip> {};
struct weight_axes_clause : seq<kw_weight_axes, skip, must<one<'('>>, skip, must<integer>, skip, must<one<','>>, skip,
                                must<integer>, skip, must<one<')'>>, skip> {};
struct omitted_input : one<'~'> {};
struct op_input : sor<omitted_input, tensor_name> {};
struct op_inputs
    : seq<one<'('>, skip, opt<op_input, skip, star<one<','>, skip, must<op_input>, skip>>, must<one<')'>>> {};
struct arrow : pegtl::string<'-', '>'> {};
struct op_output : seq<tensor_name, opt<skip, one<':'>, skip, must<tensor_type>>> {};
struct op_outputs : seq<op_output, star<skip, one<','>, skip, must<op_output>>> {};
struct attribute_name : identifier {};
struct tensor_value : seq<kw_tensor, skip, must<tensor_type>, skip, must<one<'='>>, skip, must<data_list>> {};
struct list_element : sor<number, string> {};
struct list_value
    : seq<one<'['>, skip, opt<list_element, skip, star<one<','>, skip, must<list_element>, skip>>,
          must<one<']'>>> {};
struct attribute_value : sor<tensor_value, list_value, number, string> {};
struct attribute : seq<attribute_name, skip, must<one<'='>>, skip, must<attribute_value>> {};
struct attributes
    : seq<one<'{'>, skip, opt<attribute, skip, star<one<','>, skip, must<attribute>, skip>>, must<one<'}'>>> {};
struct op_decl : seq<kw_op, skip, must<op_type>, skip, opt<op_name>, opt<op_module_clause>, opt<onnx_clause>,
                     opt<weight_axes_clause>, must<op_inputs>, skip, must<arrow>, skip, must<op_outputs>, skip,
                     opt<attributes>> {};

// --- file -----------------------------------------------------------------------------------------
struct version : integer {};
struct header : seq<kw_qrules_ir, skip, must<version>, skip> {};
struct item : seq<sor<module_decl, input_decl, state_decl, op_decl, output_decl>, skip> {};
struct end_of_file : eof {};
struct file : seq<skip, must<header>, star<item>, must<end_of_file>> {};

// --- error messages for committed elements ---------------------------------------------------------
template <typename Rule>
inline constexpr const char* kIrErrorMessage = "unexpected input";
template <> inline constexpr const char* kIrErrorMessage<header> =
    "expected the header 'qrules-ir 1' at the start of the file";
template <> inline constexpr const char* kIrErrorMessage<version> = "expected a format version number";
template <> inline constexpr const char* kIrErrorMessage<end_of_file> =
    "expected 'module', 'input', 'state', 'op' or 'output'";
template <> inline constexpr const char* kIrErrorMessage<module_name> = "expected a module name in double quotes";
template <> inline constexpr const char* kIrErrorMessage<module_type> = "expected a module type in double quotes";
template <> inline constexpr const char* kIrErrorMessage<tensor_name> =
    "expected a tensor name (an identifier or a double-quoted string)";
template <> inline constexpr const char* kIrErrorMessage<tensor_type> =
    "expected a tensor type such as 'float32[1, 3, 8, 8]'";
template <> inline constexpr const char* kIrErrorMessage<dim> =
    "expected a dimension (a size, '?' or a symbol)";
template <> inline constexpr const char* kIrErrorMessage<local_name> = "expected a local name";
template <> inline constexpr const char* kIrErrorMessage<data_list> = "expected a list of numbers '[...]'";
template <> inline constexpr const char* kIrErrorMessage<number> = "expected a number";
template <> inline constexpr const char* kIrErrorMessage<integer> = "expected an integer";
template <> inline constexpr const char* kIrErrorMessage<op_type> = "expected an op type such as 'conv2d'";
template <> inline constexpr const char* kIrErrorMessage<onnx_type> = "expected an ONNX op type";
template <> inline constexpr const char* kIrErrorMessage<op_input> =
    "expected an input tensor name or '~' for an omitted input";
template <> inline constexpr const char* kIrErrorMessage<op_inputs> = "expected '(' and the op's inputs";
template <> inline constexpr const char* kIrErrorMessage<arrow> = "expected '->' and the op's outputs";
template <> inline constexpr const char* kIrErrorMessage<op_outputs> = "expected an output tensor name";
template <> inline constexpr const char* kIrErrorMessage<op_output> = "expected an output tensor name";
template <> inline constexpr const char* kIrErrorMessage<attribute> = "expected an attribute 'name = value'";
template <> inline constexpr const char* kIrErrorMessage<attribute_value> =
    "expected an attribute value (a number, a string, a list or 'tensor ...')";
template <> inline constexpr const char* kIrErrorMessage<list_element> = "expected a number or a string";
template <> inline constexpr const char* kIrErrorMessage<one<'"'>> = "unterminated string";
template <> inline constexpr const char* kIrErrorMessage<one<':'>> = "expected ':'";
template <> inline constexpr const char* kIrErrorMessage<one<'='>> = "expected '='";
template <> inline constexpr const char* kIrErrorMessage<one<'('>> = "expected '('";
template <> inline constexpr const char* kIrErrorMessage<one<')'>> = "expected ',' or ')'";
template <> inline constexpr const char* kIrErrorMessage<one<','>> = "expected ','";
template <> inline constexpr const char* kIrErrorMessage<one<']'>> = "expected ',' or ']'";
template <> inline constexpr const char* kIrErrorMessage<one<'}'>> = "expected ',' or '}'";

template <typename Rule>
struct control : pegtl::normal<Rule> {
  template <typename Input, typename... States>
  [[noreturn]] static void raise(const Input& in, States&&...) {
    throw pegtl::parse_error(kIrErrorMessage<Rule>, in);
  }
};

}  // namespace qrules::ir_grammar
