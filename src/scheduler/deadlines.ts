// A binary min-heap of (time, item) with removal by item: one timer serves every attempt's timeout.
export class DeadlineHeap<T> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];
  private readonly pos = new Map<T, number>();

  get size(): number {
    return this.items.length;
  }

  push(time: number, item: T): void {
    this.remove(item);
    this.times.push(time);
    this.items.push(item);
    this.pos.set(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  peekTime(): number | undefined {
    return this.times[0];
  }

  pop(): T | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  remove(item: T): void {
    const i = this.pos.get(item);
    if (i !== undefined) this.removeAt(i);
  }

  private removeAt(i: number): void {
    const last = this.items.length - 1;
    this.pos.delete(this.items[i]!);
    if (i !== last) {
      this.times[i] = this.times[last]!;
      this.items[i] = this.items[last]!;
      this.pos.set(this.items[i]!, i);
    }
    this.times.pop();
    this.items.pop();
    if (i < this.items.length) {
      this.up(i);
      this.down(i);
    }
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
    this.pos.set(this.items[a]!, a);
    this.pos.set(this.items[b]!, b);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.times[p]! <= this.times[i]!) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && this.times[l]! < this.times[m]!) m = l;
      if (r < n && this.times[r]! < this.times[m]!) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
