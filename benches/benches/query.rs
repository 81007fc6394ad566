//! Query compiler: compiling a typical filtered / ordered / limited QuerySet, and one with a
//! hoisted subquery, to bound SurrealQL (text + vars).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use surql::query::{QuerySet, F, Q};
use surql::Value;

fn typical() -> QuerySet {
    QuerySet::table("person")
        .filter(F::new("age").gte(18) & F::new("address.city").iexact("London"))
        .filter(F::new("tags").contains_any(["admin", "staff"]) | !F::new("active").eq(false))
        .exclude(F::new("email").is_null(true))
        .order_by(["-age", "name"])
        .limit(20)
        .start(40)
}

fn with_subquery() -> QuerySet {
    let managers = QuerySet::table("person")
        .filter(F::new("role").eq("manager"))
        .select_value("team");
    QuerySet::table("person")
        .filter(F::new("team").in_query(managers))
        .filter(Q::lookup("name__istartswith", Value::from("a")))
        .order_by(["name"])
        .limit(10)
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("query_compile");
    let qs = typical();
    g.bench_function("filtered + ordered + limited", |b| {
        b.iter(|| black_box(&qs).compile().expect("compiles"))
    });
    g.bench_function("build + compile", |b| {
        b.iter(|| typical().compile().expect("compiles"))
    });
    let sub = with_subquery();
    g.bench_function("with a hoisted subquery", |b| {
        b.iter(|| black_box(&sub).compile().expect("compiles"))
    });
    g.bench_function("to_surql (inline, for logs)", |b| {
        b.iter(|| black_box(&qs).to_surql().expect("renders"))
    });
    g.finish();
}

criterion_group!(benches, compile);
criterion_main!(benches);
