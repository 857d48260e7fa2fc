// `require("clusterluck-native/register")` (or `node -r clusterluck-native/register`)
// makes every clusterluck loaded in the process build native kernels. It exports nothing.
export {};
