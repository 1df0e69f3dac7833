import psycopg2, psycopg2.extensions as ext
assert ext.adapt("O'Reilly").getquoted() == b"'O''Reilly'"
assert ext.adapt([1, 2]).getquoted() == b"ARRAY[1,2]"
assert psycopg2.__libpq_version__ >= 90000, psycopg2.__libpq_version__
print("ok psycopg2", psycopg2.__version__.split()[0], psycopg2.__libpq_version__)
