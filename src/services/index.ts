// The use-case services the API actions call.
import type { CatalogueService } from './catalogue.ts';
import type { EnvService } from './envs.ts';
import type { JobService } from './jobs.ts';
import type { MonitorService } from './monitor.ts';
import type { TemplateService } from './templates.ts';

export interface Services {
  jobs: JobService;
  catalogue: CatalogueService;
  templates: TemplateService;
  monitor: MonitorService;
  envs: EnvService;
}
