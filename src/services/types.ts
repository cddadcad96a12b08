// Types shared by the services and the layers that call them: who calls (the account and region of
// a request), and how an API key is looked up (the accounts service answers, the api layer asks).

/** The account and region a request acts for: every resource a service reads or writes is theirs. */
export interface Caller {
  account: string;
  region: string;
}

/** What the server knows of a SecretId: its key and the account it signs for. */
export interface SecretRecord {
  secretKey: string;
  accountId: string;
}

export type SecretLookup = (secretId: string) => SecretRecord | undefined;
