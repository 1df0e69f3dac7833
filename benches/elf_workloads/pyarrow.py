import os, tempfile, pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc
t = pa.table({"k": ["a", "b", "a", "c"] * 250, "v": list(range(1000))})
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "t.parquet")
    pq.write_table(t, p, compression="zstd")
    back = pq.read_table(p)
assert back.equals(t), "parquet round trip changed the table"
assert pc.sum(back["v"]).as_py() == 499500
print("ok pyarrow", pa.__version__, back.num_rows)
