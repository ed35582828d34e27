// Whether a gateway is answering, as this process sees it. A run of throttled, unreachable or
// failing requests marks it down from the first of them; any answer brings it back. Only an
// outage longer than the configured window turns tasks into failures (503 ServiceUnavailable,
// naming the endpoint). A child that hands over carries `downSince` to its successor, so the
// window spans invocations.
export class EndpointAvailability {
  private downSince: number | undefined;
  private lastError = "";
  private lastAnswer = 0;
  private lastFailure = 0;

  constructor(
    readonly endpointId: string,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The endpoint answered (whatever the answer said about the object). */
  answered(): void {
    this.downSince = undefined;
    this.lastAnswer = this.now();
  }

  /** A request failed for a reason about the endpoint, not the object. */
  failed(message: string): void {
    this.downSince ??= this.now();
    this.lastFailure = this.now();
    this.lastError = message.slice(0, 200);
  }

  /** Carries on an outage a previous invocation saw (a handover). */
  resume(downSince: number | undefined): void {
    if (downSince !== undefined && this.downSince === undefined && this.lastAnswer === 0)
      this.downSince = downSince;
  }

  get since(): number | undefined {
    return this.downSince;
  }

  /** How long the endpoint has been down (0 when it is answering). */
  downFor(): number {
    return this.downSince === undefined ? 0 : this.now() - this.downSince;
  }

  /** Whether the endpoint answered anything after `t`. */
  answeredSince(t: number): boolean {
    return this.lastAnswer > t;
  }

  /** The outage has lasted longer than the window: tasks fail instead of waiting. */
  exceeded(): boolean {
    return this.downSince !== undefined && this.now() - this.downSince > this.windowMs;
  }

  /**
   * The outage outlasted the window and a request failed within the last `withinMs`: a task may
   * fail without a try of its own (its object untouched). A try a second still finds the end.
   */
  exceededAndFailing(withinMs = 1_000): boolean {
    return this.exceeded() && this.now() - this.lastFailure < withinMs;
  }

  /** Why tasks fail once the window ran out: how long, the window, and the last error seen. */
  outageMessage(): string {
    const seconds = Math.round((this.now() - (this.downSince ?? this.now())) / 1000);
    return `unavailable for ${seconds} s (outage window ${Math.round(this.windowMs / 1000)} s)${this.lastError ? `; last error: ${this.lastError}` : ""}`;
  }
}
