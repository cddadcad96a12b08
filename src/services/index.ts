// The use-case services the API actions call.
import type { JobService } from './jobs.ts';

export interface Services {
  jobs: JobService;
}
