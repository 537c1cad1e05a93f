import { FORM, http, type Row, type Target } from '../lib.js';

export async function introspectionScenario(target: Target, token: string): Promise<Row> {
  let inactive = 0;
  const row = await http(target, 'introspection (access token)', {
    requests: [
      {
        method: 'POST',
        path: target.introspectPath,
        headers: FORM,
        body: new URLSearchParams({ token }).toString(),
        onResponse: (_s, body) => {
          if (!body.includes('"active":true')) inactive++;
        },
      },
    ],
  });
  row.errors += inactive;
  return row;
}
