//! scratch
use serde::Deserialize;
use toml::Spanned;
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct F { pub version: Spanned<i64>, #[serde(default, rename="rule")] pub rules: Vec<Spanned<R>> }
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct R { pub effect: Spanned<String>, pub target: Spanned<String> }
pub fn t(s: &str) { match toml::from_str::<F>(s) { Ok(f) => println!("OK {f:?}"), Err(e) => println!("ERR span={:?} msg={:?}", e.span(), e.message()) } }
#[test] fn x() {
 t("version = 1\n[[rule]]\neffect = \"deny\"\ntarget = \"x\"\n");
 t("version = 1\n[[rule]]\neffect = \"deny\"\ntagret = \"x\"\n");
 t("[[rule]]\neffect = \"deny\"\ntarget = \"x\"\n");
 t("version = 1\n[[rule]]\neffect = \"deny\"\n");
 t("version = 1\nfoo = 3\n");
 t("version = \"1\"\n");
 t("version = 1\n[[rule]]\neffect = deny\n");
 t("version = 1\n[[rule]]\neffect = [1]\ntarget=\"x\"\n");
}
