// grammar/qrules.peg is the normative grammar; src/syntax/grammar.h mirrors it one-to-one.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <tao/pegtl/contrib/analyze.hpp>
#include <tao/pegtl/contrib/peg.hpp>
#include <tao/pegtl/demangle.hpp>
#include <tao/pegtl/visit.hpp>

#include "syntax/grammar.h"
#include "test_util.h"

namespace pegtl = tao::pegtl;

namespace {

template <typename Rule>
struct PegAction : pegtl::nothing<Rule> {};

template <>
struct PegAction<pegtl::peg::grammar::Definition> {
  template <typename Input>
  static void apply(const Input& in, std::set<std::string>& names) {
    std::string text = in.string();
    std::string name = text.substr(0, text.find("<-"));
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    names.insert(name);
  }
};

template <typename Rule>
struct CollectName {
  static void visit(std::set<std::string>& names) {
    std::string_view full = pegtl::demangle<Rule>();
    constexpr std::string_view kPrefix = "qrules::syntax::grammar::";
    if (full.rfind(kPrefix, 0) == 0) names.insert(std::string(full.substr(kPrefix.size())));
  }
};

}  // namespace

TEST_CASE("qrules.peg and the PEGTL grammar define the same rules", "[grammar]") {
  std::string peg_text = qrules::testing::ReadText(std::string(QRULES_SOURCE_DIR) + "/grammar/qrules.peg");
  REQUIRE(!peg_text.empty());
  std::set<std::string> peg_names;
  pegtl::memory_input in(peg_text, "qrules.peg");
  REQUIRE(pegtl::parse<pegtl::peg::grammar::Grammar, PegAction>(in, peg_names));

  std::set<std::string> cpp_names;
  pegtl::visit<qrules::syntax::grammar::file, CollectName>(cpp_names);

  std::set<std::string> only_peg, only_cpp;
  std::set_difference(peg_names.begin(), peg_names.end(), cpp_names.begin(), cpp_names.end(),
                      std::inserter(only_peg, only_peg.end()));
  std::set_difference(cpp_names.begin(), cpp_names.end(), peg_names.begin(), peg_names.end(),
                      std::inserter(only_cpp, only_cpp.end()));
  INFO("only in qrules.peg: " << Catch::Detail::stringify(only_peg));
  INFO("only in grammar.h: " << Catch::Detail::stringify(only_cpp));
  CHECK(only_peg.empty());
  CHECK(only_cpp.empty());
  CHECK(peg_names.size() > 80);
}

TEST_CASE("the PEGTL grammar has no left recursion or empty loops", "[grammar]") {
  CHECK(pegtl::analyze<qrules::syntax::grammar::file>(-1) == 0);
}
