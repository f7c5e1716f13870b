import * as Http from "../../src/internal/http.js"

/** The request options of the HTTP-layer tests: model `m1`, a test key, an empty body. */
export const requestOptions =
  (retry: Http.RetryPolicy) =>
  (url: string, overrides: Partial<Http.RequestOptions> = {}): Http.RequestOptions => ({
    modelName: "m1",
    url,
    headers: { authorization: "Bearer sk-test" },
    body: { model: "m1" },
    settings: {},
    retry,
    ...overrides
  })
