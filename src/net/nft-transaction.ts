/**
 * nft-transaction.ts: a builder for one `nft -f -` transaction (knftables' shape): add / create / flush /
 * delete of tables, chains, rules, sets, maps and elements, rendered as nft's own command language, one
 * command a line, so an error's line number points at the command that failed. Everything in a transaction
 * is committed by the kernel at once or not at all. No kpx policy lives here.
 */

export type NftFamily = 'ip' | 'ip6' | 'inet';
export type NftVerb = 'add' | 'create' | 'flush' | 'delete';

export interface NftTableObject {
  readonly kind: 'table';
  readonly comment?: string;
}

export interface NftChainObject {
  readonly kind: 'chain';
  readonly name: string;
  /** A base chain has all three; a regular chain none. */
  readonly type?: 'filter' | 'nat' | 'route';
  readonly hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** Numeric: older nft versions refuse some named priorities in some hooks. */
  readonly priority?: number;
  readonly comment?: string;
}

export interface NftRuleObject {
  readonly kind: 'rule';
  readonly chain: string;
  /** The rule in nft syntax, without its comment. */
  readonly rule: string;
  readonly comment?: string;
}

export interface NftSetObject {
  readonly kind: 'set' | 'map';
  readonly name: string;
  /** "ipv4_addr", "ipv4_addr . inet_proto . inet_service : verdict", ... */
  readonly type?: string;
  readonly flags?: readonly string[];
  readonly timeoutSeconds?: number;
  readonly comment?: string;
}

export interface NftElementObject {
  readonly kind: 'element';
  /** The set or map the element belongs to. */
  readonly container: string;
  readonly key: readonly string[];
  /** A map element's value ("goto chain", "drop"). */
  readonly value?: readonly string[];
  readonly comment?: string;
}

export type NftObject = NftTableObject | NftChainObject | NftRuleObject | NftSetObject | NftElementObject;

export interface NftOperation {
  readonly verb: NftVerb;
  readonly object: NftObject;
}

/** A string as nft reads it inside double quotes. */
function quoted(s: string): string {
  return JSON.stringify(s);
}

export class NftTransaction {
  readonly family: NftFamily;
  readonly table: string;
  private readonly ops: NftOperation[] = [];

  constructor(family: NftFamily, table: string) {
    this.family = family;
    this.table = table;
  }

  add(object: NftObject): this { return this.push('add', object); }
  /** Like add, but fails when the object already exists. */
  create(object: Exclude<NftObject, NftRuleObject>): this { return this.push('create', object); }
  /** Removes a chain's rules, or a set's or map's elements (a table: every chain's rules). */
  flush(object: NftTableObject | NftChainObject | NftSetObject): this { return this.push('flush', object); }
  delete(object: Exclude<NftObject, NftRuleObject>): this { return this.push('delete', object); }

  private push(verb: NftVerb, object: NftObject): this {
    this.ops.push({ verb, object });
    return this;
  }

  get operations(): readonly NftOperation[] {
    return this.ops;
  }

  get length(): number {
    return this.ops.length;
  }

  /** The transaction as `nft -f` input: one command a line, ending in a newline ("" when empty). */
  toString(): string {
    if (this.ops.length === 0) return '';
    return this.ops.map((op) => this.render(op)).join('\n') + '\n';
  }

  private render({ verb, object: o }: NftOperation): string {
    const where = `${this.family} ${this.table}`;
    switch (o.kind) {
      case 'table':
        return `${verb} table ${where}${verb !== 'flush' && verb !== 'delete' && o.comment !== undefined ? ` { comment ${quoted(o.comment)} ; }` : ''}`;
      case 'chain': {
        let line = `${verb} chain ${where} ${o.name}`;
        if (verb === 'add' || verb === 'create') {
          const props: string[] = [];
          if (o.type && o.hook && o.priority !== undefined) props.push(`type ${o.type} hook ${o.hook} priority ${o.priority} ;`);
          if (o.comment !== undefined) props.push(`comment ${quoted(o.comment)} ;`);
          if (props.length) line += ` { ${props.join(' ')} }`;
        }
        return line;
      }
      case 'rule':
        return `${verb} rule ${where} ${o.chain} ${o.rule}${o.comment !== undefined ? ` comment ${quoted(o.comment)}` : ''}`;
      case 'set':
      case 'map': {
        let line = `${verb} ${o.kind} ${where} ${o.name}`;
        if (verb === 'add' || verb === 'create') {
          const props = [`type ${o.type ?? ''} ;`];
          if (o.flags?.length) props.push(`flags ${o.flags.join(',')} ;`);
          if (o.timeoutSeconds !== undefined) props.push(`timeout ${o.timeoutSeconds}s ;`);
          if (o.comment !== undefined) props.push(`comment ${quoted(o.comment)} ;`);
          line += ` { ${props.join(' ')} }`;
        }
        return line;
      }
      case 'element': {
        let elem = o.key.join(' . ');
        if (verb !== 'delete') {
          if (o.comment !== undefined) elem += ` comment ${quoted(o.comment)}`;
          if (o.value?.length) elem += ` : ${o.value.join(' . ')}`;
        }
        return `${verb} element ${where} ${o.container} { ${elem} }`;
      }
    }
  }
}
