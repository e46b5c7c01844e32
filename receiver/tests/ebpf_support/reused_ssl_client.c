/* reused_ssl_client PORT1 PORT2: two connections, one after the other, through
 * one SSL* address (as an allocator that reuses freed memory gives the next
 * connection), each on its own socket; the second socket gets another fd
 * number than the first (a spacer socket is opened between them). The first
 * connection ends by close(2) only: no SSL_free is called or exported. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fake_ssl {
	int fd;
};

int SSL_write(struct fake_ssl *s, const void *buf, int n);

static struct fake_ssl conn;

static int dial(const char *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		exit(2);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 1;
	conn.fd = dial(argv[1]);
	if (SSL_write(&conn, "first connection", 16) != 16)
		return 3;
	close(conn.fd);
	int spacer = socket(AF_INET, SOCK_STREAM, 0);
	conn.fd = dial(argv[2]);
	if (SSL_write(&conn, "second connection", 17) != 17)
		return 4;
	close(conn.fd);
	close(spacer);
	return 0;
}
