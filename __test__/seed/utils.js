// Helpers the seed kernel needs; errorToObject flattens an Error for the wire.
// Deliberately not in strict mode: like the original, assigning `_error` on a
// primitive (e.g. a string thrown as an error) must be a silent no-op.

function errorToObject(err) {
  err._error = err._error ? err._error : true;
  if (!(err instanceof Error)) return err;
  const out = {};
  if (process.env.NODE_ENV !== "production") out.stack = err.stack;
  out.message = err.message;
  for (const key of Object.keys(err)) {
    out[key] = err[key];
  }
  return out;
}

module.exports = { errorToObject };
