// The instance catalogue: Tencent Cloud CVM instance types (family, vCPU, memory, category, GPUs)
// and where they are offered. The default is a realistic subset that includes every type the official
// examples use; an operator can replace it (config file `catalogue`). Pure data and lookups.
import { REGION_ZONES } from './regions.ts';

export interface FamilySpec {
  family: string;
  typeName: string;
  category: string;
  cpuType: string;
  frequency: string;
  /** Size names: SMALL = 1 vCPU, MEDIUM = 2, LARGE = 4, nXLARGE = 4n; the number is GiB of memory. */
  sizes: string[];
  /** Hourly price per vCPU (postpaid list price). */
  pricePerCpu: number;
  /** GPUs per instance = vCPUs / this (GPU families only). */
  cpusPerGpu?: number;
  /** Zone numbers (the `n` of `<region>-n`) where the family is offered; all zones when absent. */
  zoneNumbers?: number[];
  /** Zone numbers where the family is sold out. */
  soldOutZoneNumbers?: number[];
}

export interface InstanceTypeInfo {
  instanceType: string;
  family: string;
  typeName: string;
  category: string;
  cpu: number;
  memGiB: number;
  gpu: number;
  cpuType: string;
  frequency: string;
  pricePerHour: number;
  zoneNumbers?: number[];
  soldOutZoneNumbers?: number[];
}

export interface Catalogue {
  types: Map<string, InstanceTypeInfo>;
  /** Category → families, in a stable order. */
  categories: Map<string, string[]>;
}

const E5V2 = { cpuType: 'Intel Xeon E5-2680 v2', frequency: '2.5GHz' };
const E5V4 = { cpuType: 'Intel Xeon E5-2680 v4', frequency: '2.4GHz' };
const SKYLAKE = { cpuType: 'Intel Xeon Skylake 6133', frequency: '2.5GHz/3.1GHz' };
const CASCADE = { cpuType: 'Intel Xeon Cascade Lake 8255C', frequency: '2.5GHz/3.1GHz' };
const ICE = { cpuType: 'Intel Xeon Ice Lake', frequency: '2.7GHz/3.3GHz' };
const ROME = { cpuType: 'AMD EPYC Rome', frequency: '2.6GHz/3.3GHz' };
const MILAN = { cpuType: 'AMD EPYC Milan', frequency: '2.55GHz/3.5GHz' };

const GENERAL_SIZES = ['SMALL1', 'SMALL2', 'SMALL4', 'MEDIUM2', 'MEDIUM4', 'MEDIUM8', 'LARGE8', 'LARGE16', '2XLARGE16', '2XLARGE32', '4XLARGE32', '4XLARGE64'];

export const DEFAULT_FAMILIES: FamilySpec[] = [
  { family: 'S1', typeName: 'Standard S1', category: 'GENERAL', ...E5V2, sizes: GENERAL_SIZES, pricePerCpu: 0.32, soldOutZoneNumbers: [1] },
  { family: 'S2', typeName: 'Standard S2', category: 'GENERAL_2', ...E5V4, sizes: GENERAL_SIZES, pricePerCpu: 0.3 },
  { family: 'S3', typeName: 'Standard S3', category: 'GENERAL_3', ...SKYLAKE, sizes: GENERAL_SIZES, pricePerCpu: 0.28 },
  { family: 'S4', typeName: 'Standard S4', category: 'GENERAL_3', ...SKYLAKE, sizes: GENERAL_SIZES, pricePerCpu: 0.27 },
  { family: 'S5', typeName: 'Standard S5', category: 'GENERAL_3', ...CASCADE, sizes: [...GENERAL_SIZES, '8XLARGE64', '12XLARGE128'], pricePerCpu: 0.26 },
  { family: 'S6', typeName: 'Standard S6', category: 'GENERAL_3', ...ICE, sizes: GENERAL_SIZES, pricePerCpu: 0.25, zoneNumbers: [3, 4, 6, 7] },
  { family: 'SA2', typeName: 'Standard AMD SA2', category: 'GENERAL_3', ...ROME, sizes: GENERAL_SIZES, pricePerCpu: 0.22 },
  { family: 'SA3', typeName: 'Standard AMD SA3', category: 'GENERAL_3', ...MILAN, sizes: GENERAL_SIZES, pricePerCpu: 0.21 },
  { family: 'SA5', typeName: 'Standard AMD SA5', category: 'GENERAL_3', ...MILAN, sizes: GENERAL_SIZES, pricePerCpu: 0.2 },
  { family: 'C2', typeName: 'Compute C2', category: 'COMPUTE_2', ...E5V4, sizes: ['LARGE8', '2XLARGE16', '4XLARGE32'], pricePerCpu: 0.36 },
  { family: 'C3', typeName: 'Compute C3', category: 'COMPUTE_3', ...SKYLAKE, sizes: ['LARGE8', '2XLARGE16', '4XLARGE32', '8XLARGE64'], pricePerCpu: 0.34 },
  { family: 'C5', typeName: 'Compute C5', category: 'COMPUTE_3', ...CASCADE, sizes: ['LARGE8', '2XLARGE16', '4XLARGE32', '8XLARGE64'], pricePerCpu: 0.33 },
  { family: 'C6', typeName: 'Compute C6', category: 'COMPUTE_3', ...ICE, sizes: ['LARGE8', '2XLARGE16', '4XLARGE32'], pricePerCpu: 0.32, zoneNumbers: [3, 4, 6, 7] },
  { family: 'M5', typeName: 'Memory Optimized M5', category: 'MEMORY', ...CASCADE, sizes: ['MEDIUM16', 'LARGE32', '2XLARGE64', '4XLARGE128'], pricePerCpu: 0.45 },
  { family: 'IT5', typeName: 'High IO IT5', category: 'HIGHIO', ...CASCADE, sizes: ['4XLARGE64', '8XLARGE128'], pricePerCpu: 0.6, zoneNumbers: [3, 4] },
  { family: 'GN2', typeName: 'GPU GN2', category: 'GPU', ...E5V4, sizes: ['7XLARGE56', '14XLARGE112'], pricePerCpu: 1.2, cpusPerGpu: 28, zoneNumbers: [3, 4] },
  { family: 'GN7', typeName: 'GPU GN7', category: 'GPU', ...CASCADE, sizes: ['2XLARGE32', '5XLARGE80'], pricePerCpu: 1.1, cpusPerGpu: 8, zoneNumbers: [3, 6] },
];

const SIZE_RE = /^(SMALL|MEDIUM|LARGE|(\d+)XLARGE)(\d+)$/;

/** vCPUs and memory of a size name (`SMALL1`, `MEDIUM4`, `12XLARGE128`), or undefined. */
export function sizeOf(size: string): { cpu: number; memGiB: number } | undefined {
  const m = SIZE_RE.exec(size);
  if (!m) return undefined;
  const cpu = m[1] === 'SMALL' ? 1 : m[1] === 'MEDIUM' ? 2 : m[1] === 'LARGE' ? 4 : 4 * Number(m[2]);
  return { cpu, memGiB: Number(m[3]) };
}

export class CatalogueError extends Error {}

/** Build a catalogue from family specs (the default, or what the operator configured). */
export function loadCatalogue(families: unknown = DEFAULT_FAMILIES): Catalogue {
  if (!Array.isArray(families) || families.length === 0) throw new CatalogueError('catalogue: a non-empty array of instance families is required');
  const types = new Map<string, InstanceTypeInfo>();
  const categories = new Map<string, string[]>();
  families.forEach((f: Partial<FamilySpec>, i) => {
    const where = `catalogue[${i}]`;
    for (const k of ['family', 'typeName', 'category', 'cpuType', 'frequency'] as const) {
      if (typeof f[k] !== 'string' || f[k] === '') throw new CatalogueError(`${where}.${k} must be a non-empty string`);
    }
    if (!/^[A-Z][A-Z0-9]*$/.test(f.family!)) throw new CatalogueError(`${where}.family "${f.family}" must be upper-case letters and digits`);
    if (!Array.isArray(f.sizes) || f.sizes.length === 0) throw new CatalogueError(`${where}.sizes must be a non-empty array`);
    if (typeof f.pricePerCpu !== 'number' || !(f.pricePerCpu >= 0)) throw new CatalogueError(`${where}.pricePerCpu must be a non-negative number`);
    for (const k of ['zoneNumbers', 'soldOutZoneNumbers'] as const) {
      const z = f[k];
      if (z !== undefined && (!Array.isArray(z) || !z.every((n) => Number.isInteger(n) && n > 0))) throw new CatalogueError(`${where}.${k} must be an array of positive integers`);
    }
    for (const size of f.sizes) {
      const s = sizeOf(String(size));
      if (!s) throw new CatalogueError(`${where}: size "${size}" is not SMALL<n>, MEDIUM<n>, LARGE<n> or <k>XLARGE<n>`);
      const instanceType = `${f.family}.${size}`;
      if (types.has(instanceType)) throw new CatalogueError(`${where}: ${instanceType} appears twice`);
      types.set(instanceType, {
        instanceType, family: f.family!, typeName: f.typeName!, category: f.category!, cpu: s.cpu, memGiB: s.memGiB,
        gpu: f.cpusPerGpu ? Math.max(1, Math.floor(s.cpu / f.cpusPerGpu)) : 0, cpuType: f.cpuType!, frequency: f.frequency!,
        pricePerHour: Math.round(s.cpu * f.pricePerCpu * 100) / 100, zoneNumbers: f.zoneNumbers, soldOutZoneNumbers: f.soldOutZoneNumbers,
      });
    }
    const list = categories.get(f.category!) ?? [];
    if (!list.includes(f.family!)) list.push(f.family!);
    categories.set(f.category!, list);
  });
  return { types, categories };
}

function zoneNumber(zone: string): number {
  return Number(zone.slice(zone.lastIndexOf('-') + 1));
}

/** Is the type offered in the zone (in stock or sold out)? */
export function offeredIn(t: InstanceTypeInfo, zone: string): boolean {
  return !t.zoneNumbers || t.zoneNumbers.includes(zoneNumber(zone));
}

export function soldOutIn(t: InstanceTypeInfo, zone: string): boolean {
  return Boolean(t.soldOutZoneNumbers?.includes(zoneNumber(zone)));
}

/** Every zone of every region where the type is offered. */
export function zonesOfType(t: InstanceTypeInfo): string[] {
  return Object.values(REGION_ZONES).flat().filter((z) => offeredIn(t, z));
}
