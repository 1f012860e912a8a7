// The PEGTL grammar of .qrules files: one struct per definition of grammar/qrules.peg, same names,
// same order.  No semantics here: actions and error messages live in parse.cc, the meaning of
// fields in src/sema/.  `if_must<>` after each keyword and opening bracket turns a failure after
// that point into an error at the furthest position instead of backtracking.
#pragma once

#include <tao/pegtl.hpp>

namespace qrules::syntax::grammar {

namespace pegtl = tao::pegtl;
using pegtl::at;
using pegtl::eof;
using pegtl::if_must;
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

// clang-format off
// --- tokens (defined first: everything else uses them) -----------------------------------------
struct ident_other : ranges<'a', 'z', 'A', 'Z', '0', '9', '_', '_'> {};
struct ident_first : ranges<'a', 'z', 'A', 'Z', '_', '_'> {};
struct identifier : seq<ident_first, star<ident_other>> {};
struct whitespace : one<' ', '\t', '\r', '\n'> {};
struct comment : seq<one<'#'>, star<not_one<'\n'>>> {};
struct skip : star<sor<whitespace, comment>> {};
struct integer : seq<plus<pegtl::digit>, not_at<ident_other>> {};
struct number : seq<opt<one<'-'>>, plus<pegtl::digit>, opt<one<'.'>, plus<pegtl::digit>>,
                    opt<one<'e', 'E'>, opt<one<'+', '-'>>, plus<pegtl::digit>>, not_at<ident_other>> {};
struct escape : seq<one<'\\'>, one<'"', '\\', 'n', 't'>> {};
struct string_char : sor<escape, seq<not_at<one<'"', '\\', '\n', '\r'>>, pegtl::any>> {};
struct string_close : one<'"'> {};
struct string : if_must<one<'"'>, star<string_char>, string_close> {};
struct regex_char : sor<seq<one<'\\'>, not_at<one<'\n', '\r'>>, pegtl::any>, seq<not_at<one<'/', '\n', '\r'>>, pegtl::any>> {};
struct regex_close : one<'/'> {};
struct regex : if_must<one<'/'>, star<regex_char>, regex_close> {};
struct kw_qrules : seq<TAO_PEGTL_STRING("qrules"), not_at<ident_other>> {};
struct kw_import : seq<TAO_PEGTL_STRING("import"), not_at<ident_other>> {};
struct kw_spec : seq<TAO_PEGTL_STRING("spec"), not_at<ident_other>> {};
struct kw_global : seq<TAO_PEGTL_STRING("global"), not_at<ident_other>> {};
struct kw_module_type : seq<TAO_PEGTL_STRING("module_type"), not_at<ident_other>> {};
struct kw_module_name : seq<TAO_PEGTL_STRING("module_name"), not_at<ident_other>> {};
struct kw_op_type : seq<TAO_PEGTL_STRING("op_type"), not_at<ident_other>> {};
struct kw_op_name : seq<TAO_PEGTL_STRING("op_name"), not_at<ident_other>> {};
struct kw_qat_schedule : seq<TAO_PEGTL_STRING("qat_schedule"), not_at<ident_other>> {};
struct kw_expect : seq<TAO_PEGTL_STRING("expect"), not_at<ident_other>> {};
struct kw_none : seq<TAO_PEGTL_STRING("none"), not_at<ident_other>> {};

// --- values -------------------------------------------------------------------------------------
struct separator : seq<skip, opt<one<','>, skip>> {};
struct word : seq<identifier> {};
struct scalar : sor<number, string, word> {};
struct list_close : one<']'> {};
struct list : if_must<one<'['>, skip, star<scalar, separator>, list_close> {};
struct tuple_close : one<')'> {};
struct tuple : if_must<one<'('>, skip, star<scalar, separator>, tuple_close> {};
struct argument_value : sor<tuple, scalar> {};
struct argument_name : seq<identifier> {};
struct named_argument : seq<argument_name, skip, one<':'>, skip, must<argument_value>> {};
struct argument : sor<named_argument, argument_value> {};
struct call_close : one<')'> {};
struct call_name : seq<identifier> {};
struct call : seq<call_name, skip, if_must<one<'('>, skip, star<argument, separator>, call_close>> {};
struct field_value : sor<call, list, scalar> {};
struct field_name : seq<identifier> {};
struct field : if_must<field_name, skip, one<':'>, skip, field_value> {};

// --- imports and named specs ---------------------------------------------------------------------
struct import_path : seq<string> {};
struct import_decl : if_must<kw_import, skip, import_path> {};
struct spec_name : seq<identifier> {};
struct parent_name : seq<identifier> {};
struct spec_parent : if_must<one<':'>, skip, parent_name, skip> {};
struct spec_body_close : one<'}'> {};
struct spec_body : if_must<one<'{'>, skip, star<field, separator>, spec_body_close> {};
struct spec_decl : if_must<kw_spec, skip, spec_name, skip, opt<spec_parent>, spec_body> {};

// --- tensor maps ---------------------------------------------------------------------------------
struct all_key : one<'*'> {};
struct key_index : seq<integer> {};
struct key_name : seq<identifier> {};
struct key_string : seq<string> {};
struct map_key : sor<all_key, key_index, key_name, key_string> {};
struct none_ref : seq<kw_none> {};
struct ref_name : seq<identifier> {};
struct named_ref : seq<ref_name, opt<skip, spec_body>> {};
struct spec_ref : sor<none_ref, spec_body, named_ref> {};
struct map_entry : if_must<map_key, skip, one<':'>, skip, spec_ref> {};
struct tensor_map_close : one<'}'> {};
struct tensor_map : if_must<one<'{'>, skip, star<map_entry, separator>, tensor_map_close> {};
struct none_tail : if_must<one<':'>, skip, kw_none> {};
struct group_name : seq<sor<TAO_PEGTL_STRING("op_input"), TAO_PEGTL_STRING("op_output"), TAO_PEGTL_STRING("op_state"),
                            TAO_PEGTL_STRING("module_input"), TAO_PEGTL_STRING("module_output"),
                            TAO_PEGTL_STRING("module_state")>, not_at<ident_other>> {};
struct group_tail : sor<none_tail, tensor_map> {};
struct tensor_group : if_must<group_name, skip, group_tail> {};

// --- op entries and the QAT schedule -------------------------------------------------------------
struct comparison : sor<TAO_PEGTL_STRING(">="), TAO_PEGTL_STRING("<="), TAO_PEGTL_STRING("=="), one<'>'>, one<'<'>> {};
struct expect_count : seq<integer> {};
struct expect_clause : if_must<kw_expect, skip, opt<comparison>, skip, expect_count, skip> {};
struct selector : sor<string, regex> {};
struct op_body_close : one<'}'> {};
struct op_body : if_must<one<'{'>, skip, star<tensor_group, separator>, op_body_close> {};
struct op_tail : sor<none_tail, op_body> {};
struct op_type_name : seq<identifier> {};
struct op_type_entry : if_must<kw_op_type, skip, op_type_name, skip, opt<expect_clause>, op_tail> {};
struct op_name_entry : if_must<kw_op_name, skip, selector, skip, opt<expect_clause>, op_tail> {};
struct schedule_body_close : one<'}'> {};
struct schedule_body : if_must<one<'{'>, skip, star<field, separator>, schedule_body_close> {};
struct schedule_tail : sor<none_tail, schedule_body> {};
struct qat_schedule : if_must<kw_qat_schedule, skip, schedule_tail> {};

// --- scopes --------------------------------------------------------------------------------------
struct scope_item : sor<tensor_group, op_type_entry, op_name_entry, qat_schedule> {};
struct scope_body_close : one<'}'> {};
struct scope_body : if_must<one<'{'>, skip, star<scope_item, separator>, scope_body_close> {};
struct scope_tail : sor<none_tail, scope_body> {};
struct global_decl : if_must<kw_global, skip, scope_tail> {};
struct type_name : seq<string> {};
struct module_type_decl : if_must<kw_module_type, skip, type_name, skip, opt<expect_clause>, scope_tail> {};
struct module_name_decl : if_must<kw_module_name, skip, selector, skip, opt<expect_clause>, scope_tail> {};

// --- the file ------------------------------------------------------------------------------------
struct version : seq<integer> {};
struct header : if_must<kw_qrules, skip, version> {};
struct item : sor<import_decl, spec_decl, global_decl, module_type_decl, module_name_decl> {};
struct item_list : star<item, skip> {};
struct end_of_file : eof {};
struct file : seq<skip, must<header>, skip, item_list, must<end_of_file>> {};
// clang-format on

}  // namespace qrules::syntax::grammar
