// Node test client for receiver/tests/ebpf_capture.rs (node's static OpenSSL).
// usage: node node_client.js PORT
// Two concurrent POSTs on two connections from one process: /node/1, /node/2.
const https = require('https');
const port = Number(process.argv[2]);
function post(i) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'gpt-test', req: i, pad: 'y'.repeat(100 * i) });
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/node/' + i,
        rejectUnauthorized: false,
        agent: new https.Agent({ keepAlive: false }),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve(data));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
Promise.all([post(1), post(2)])
  .then((r) => console.log(JSON.stringify(r)))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
