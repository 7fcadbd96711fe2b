/** The domains one side of a link speaks for: exact domains and "*.domain" patterns (links.*.local_domains, remote_domains). */
export class LinkDomains {
  readonly #exact: Set<string>;
  /** ".example.com" for "*.example.com" */
  readonly #suffixes: string[];

  constructor(patterns: readonly string[]) {
    this.#exact = new Set(patterns.filter((pattern) => !pattern.startsWith('*.')));
    this.#suffixes = patterns.filter((pattern) => pattern.startsWith('*.')).map((pattern) => pattern.slice(1));
  }

  has(domain: string): boolean {
    return this.#exact.has(domain) || this.#suffixes.some((suffix) => domain.endsWith(suffix));
  }
}
