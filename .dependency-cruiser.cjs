// The layers of lib/, lowest first (README, "Where things are", says what each is for). A module may import
// its own folder and any folder of a lower layer; nothing imports upward, and folders never import
// each other in a cycle. functions/, runtime/ and cli/ sit above lib/ and may import any of it;
// lib/ imports none of them. `npm test` runs this (npm run lint:layers).
const LAYERS = [
  ["lib/errors\\.ts"],
  ["lib/env\\.ts"],
  ["lib/util/"],
  ["lib/bitmap/", "lib/s3control/"],
  ["lib/retry/"],
  ["lib/store/"],
  ["lib/auth/"],
  ["lib/leases/"],
  ["lib/jobs/"],
  ["lib/steps/"],
  ["lib/endpoints/"],
  ["lib/settings\\.ts"],
  ["lib/context\\.ts", "lib/budget\\.ts"],
  ["lib/manifest/"],
  ["lib/report/"],
  ["lib/operations/"],
  ["lib/dispatch/"],
  ["lib/children/"],
  ["lib/merge/"],
  ["lib/notify/"],
  ["lib/reconcile/"],
  ["lib/queue/"],
  ["lib/api/"],
  ["lib/handlers/"],
  ["lib/create-context\\.ts", "lib/lambda\\.ts", "lib/loops\\.ts", "lib/provision\\.ts"],
];

const alt = (paths) => `^(${paths.join("|")})`;

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i}-imports-upward`,
  comment: `${layer.join(", ")} may import only its own and lower layers`,
  severity: "error",
  from: { path: alt(layer) },
  to: { path: alt(LAYERS.slice(i + 1).flat()) },
}));

// Members of one layer (bitmap and s3control; context and budget) stay independent; the top layer
// composes the others and may import its own members.
const siblings = LAYERS.slice(0, -1).flatMap((layer, i) =>
  layer.length < 2
    ? []
    : layer.map((from) => ({
        name: `layer-${i}-sibling-${from.replace(/\W+/g, "-")}`,
        comment: `${from} does not import the other members of its layer`,
        severity: "error",
        from: { path: `^${from}` },
        to: { path: alt(layer.filter((p) => p !== from)) },
      })),
);

module.exports = {
  forbidden: [
    ...upward,
    ...siblings,
    {
      name: "no-cycles",
      comment: "no module reaches itself through its imports",
      severity: "error",
      from: { path: "^lib/" },
      to: { circular: true },
    },
    {
      name: "lib-stays-below-its-adapters",
      comment: "lib/ knows nothing of the functions, runtimes, CLI, tests or benches",
      severity: "error",
      from: { path: "^lib/" },
      to: { path: "^(functions|runtime|cli|test|bench|scripts)/" },
    },
    {
      name: "every-lib-module-has-a-layer",
      comment: "a new folder of lib/ gets a place in LAYERS first",
      severity: "error",
      from: { path: "^lib/", pathNot: alt(LAYERS.flat()) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    parser: "swc",
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
