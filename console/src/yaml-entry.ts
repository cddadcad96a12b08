// The YAML parser of the submit page, bundled apart as yaml.js (about 100 KB minified: three times
// the rest of the console) and loaded by submit.ts only when that page opens, so that the first load
// stays small. It hands the `yaml` package's parse and stringify to the app.
import { parse, stringify } from 'yaml';

(globalThis as { OpenBatchYaml?: unknown }).OpenBatchYaml = { parse, stringify };
