// The dependency rules of src/ (docs/architecture.md, "Layering"): arrows point inward, the api layer
// sits on top, nothing goes in circles. `npm run lint:deps` checks them (in .ci/run); type-only
// imports count too (tsPreCompilationDeps).

const LAYERS_BELOW_DOMAIN = '^src/(api|services|store|executors|scheduler|objectstore|config)/';

/**
 * Known violations, allowed one import at a time (importer → the files it may still import), so that
 * a new one fails. Each list says who removes it.
 */
const KNOWN = {};

const exact = (file) => `^${file.replace(/[.]/g, '\\.')}$`;

/** A forbidden rule, split so that the known violations of `name` (and only those) pass. */
function forbid(name, comment, from, to) {
  const known = KNOWN[name] ?? {};
  const importers = Object.keys(known);
  const pathNot = [...[from.pathNot ?? []].flat(), ...importers.map(exact)];
  const rules = [{ name, comment, severity: 'error', from: { ...from, ...(pathNot.length > 0 ? { pathNot } : {}) }, to }];
  for (const importer of importers) {
    rules.push({
      name,
      comment: `${comment} (known violations of ${importer}: see KNOWN)`,
      severity: 'error',
      from: { path: exact(importer) },
      to: { ...to, pathNot: known[importer].map(exact) },
    });
  }
  return rules;
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...forbid(
      'domain-imports-only-domain-and-lib',
      'domain is the vocabulary (states, ids, the error catalogue): it imports no other layer',
      { path: '^src/domain/' },
      { path: LAYERS_BELOW_DOMAIN },
    ),
    ...forbid(
      'only-the-top-imports-api',
      'the api layer sits on top: only cli/, main.ts and api/ itself import it (services: see the next rule)',
      { path: '^src/', pathNot: ['^src/api/', '^src/cli/', '^src/main\\.ts$', '^src/services/'] },
      { path: '^src/api/' },
    ),
    ...forbid(
      'services-import-only-wire-types-from-api',
      'services may import the wire model types of src/api/models.ts and src/api/extension-models.ts, type-only, and nothing else of api/',
      { path: '^src/services/' },
      { path: '^src/api/', pathNot: '^src/api/(extension-)?models\\.ts$' },
    ),
    ...forbid(
      'services-import-api-models-type-only',
      'services may import src/api/models.ts for its types only (import type)',
      { path: '^src/services/' },
      { path: '^src/api/models\\.ts$', dependencyTypesNot: ['type-only'] },
    ),
    ...forbid(
      'config-imports-no-executor-and-no-api',
      'config is read before anything starts: it takes the choices of other layers from config/choices.ts',
      { path: '^src/config/' },
      { path: '^src/(executors|api)/' },
    ),
    ...forbid(
      'scheduler-imports-no-services',
      'the scheduler is below the services: they call it, never the other way',
      { path: '^src/scheduler/' },
      { path: '^src/services/' },
    ),
    ...forbid(
      'services-import-no-scheduler',
      'services talk to the scheduler through its ports (src/scheduler/ports.ts, type-only), not its modules',
      { path: '^src/services/' },
      { path: '^src/scheduler/', pathNot: '^src/scheduler/ports\\.ts$' },
    ),
    ...forbid(
      'services-import-scheduler-ports-type-only',
      'the ports are interfaces: services import them with import type',
      { path: '^src/services/' },
      { path: '^src/scheduler/ports\\.ts$', dependencyTypesNot: ['type-only'] },
    ),
    ...forbid(
      'no-circular',
      'no import cycles, type-only ones included',
      { path: '^src/' },
      { circular: true },
    ),
  ],
  options: {
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
