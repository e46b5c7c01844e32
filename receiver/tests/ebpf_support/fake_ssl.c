/* A library exporting SSL_write/SSL_read (and no SSL_free, like BoringSSL
 * in a stripped binary) that moves plaintext straight over the socket in
 * the "SSL": what the ebpf capture sees of a socket-BIO TLS library. */
#include <unistd.h>

struct fake_ssl {
	int fd;
};

int SSL_write(struct fake_ssl *s, const void *buf, int n)
{
	return (int)write(s->fd, buf, (size_t)n);
}

int SSL_read(struct fake_ssl *s, void *buf, int n)
{
	return (int)read(s->fd, buf, (size_t)n);
}
