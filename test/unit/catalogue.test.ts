// The default instance catalogue is consistent, and an operator's catalogue is validated.
import { describe, expect, it } from 'vitest';
import { CatalogueError, loadCatalogue, sizeOf, zonesOfType } from '../../src/domain/catalogue.ts';

describe('catalogue', () => {
  it('derives vCPU and memory from Tencent size names', () => {
    expect(sizeOf('SMALL1')).toEqual({ cpu: 1, memGiB: 1 });
    expect(sizeOf('MEDIUM4')).toEqual({ cpu: 2, memGiB: 4 });
    expect(sizeOf('LARGE16')).toEqual({ cpu: 4, memGiB: 16 });
    expect(sizeOf('7XLARGE56')).toEqual({ cpu: 28, memGiB: 56 });
    expect(sizeOf('12XLARGE128')).toEqual({ cpu: 48, memGiB: 128 });
    expect(sizeOf('HUGE')).toBeUndefined();
  });
  it('holds every family in one category, every type somewhere', () => {
    const cat = loadCatalogue();
    expect(cat.types.size).toBeGreaterThan(100);
    const families = new Set([...cat.types.values()].map((t) => t.family));
    const listed = [...cat.categories.values()].flat();
    expect(new Set(listed)).toEqual(families);
    expect(listed.length).toBe(families.size);
    for (const t of cat.types.values()) expect(zonesOfType(t).length).toBeGreaterThan(0);
    expect(cat.types.get('GN2.14XLARGE112')?.gpu).toBe(2);
  });
  it('rejects a malformed operator catalogue with a message', () => {
    expect(() => loadCatalogue([])).toThrow(CatalogueError);
    expect(() => loadCatalogue([{ family: 's1', typeName: 'x', category: 'G', cpuType: 'c', frequency: 'f', sizes: ['SMALL1'], pricePerCpu: 1 }])).toThrow(/upper-case/);
    expect(() => loadCatalogue([{ family: 'S1', typeName: 'x', category: 'G', cpuType: 'c', frequency: 'f', sizes: ['BIG'], pricePerCpu: 1 }])).toThrow(/size "BIG"/);
    expect(() => loadCatalogue([{ family: 'S1', typeName: 'x', category: 'G', cpuType: 'c', frequency: 'f', sizes: ['SMALL1', 'SMALL1'], pricePerCpu: 1 }])).toThrow(/twice/);
    expect(loadCatalogue([{ family: 'X1', typeName: 'x', category: 'G', cpuType: 'c', frequency: 'f', sizes: ['LARGE8'], pricePerCpu: 1 }]).types.get('X1.LARGE8')).toMatchObject({ cpu: 4, memGiB: 8 });
  });
});
