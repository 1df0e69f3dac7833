import polars as pl
df = pl.DataFrame({"k": ["a", "b", "a", "c", "b", "a"], "v": [1, 2, 3, 4, 5, 6]})
g = df.group_by("k").agg(pl.col("v").sum().alias("s")).sort("k")
assert g.to_dict(as_series=False) == {"k": ["a", "b", "c"], "s": [10, 7, 4]}, g
lz = pl.LazyFrame({"x": list(range(10000))}).filter(pl.col("x") % 7 == 0).select(pl.col("x").sum()).collect()
assert lz.item() == sum(x for x in range(10000) if x % 7 == 0)
print("ok polars", pl.__version__)
