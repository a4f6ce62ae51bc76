/*
 * loopback-pingpong.c — the floor of a queue-depth-1 read stream on this machine, with no iSCSI and no storage:
 * a forked server recv()s a 48-byte "command" and send()s one record from memory; the client sends the command and
 * receives the whole record, N times. Prints MB/s and microseconds per record. Every target's QD1 READ pays at least
 * this (two wake-ups and the socket copies), so it tells how much of a target's per-record time is the machine's.
 *
 *   gcc -O2 -o /tmp/pingpong tools/bench/loopback-pingpong.c
 *   /tmp/pingpong 262144 2000; /tmp/pingpong 1048576 500; /tmp/pingpong 48 20000   # (port 5599 on 127.0.0.1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  size_t bs=atol(argv[1]); int n=atoi(argv[2]); int port=5599;
  int ls=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(ls,SOL_SOCKET,SO_REUSEADDR,&one,4);
  struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_port=htons(port); a.sin_addr.s_addr=htonl(0x7f000001);
  bind(ls,(void*)&a,sizeof a); listen(ls,1);
  if(fork()==0){ int s=accept(ls,0,0); setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4);
    char *b=malloc(bs); memset(b,7,bs); char cmd[48];
    for(;;){ size_t g=0; while(g<48){ssize_t r=recv(s,cmd+g,48-g,0); if(r<=0) _exit(0); g+=r;}
      size_t o=0; while(o<bs){ssize_t w=send(s,b+o,bs-o,0); if(w<=0)_exit(1); o+=w;} } }
  int c=socket(AF_INET,SOCK_STREAM,0); setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4);
  connect(c,(void*)&a,sizeof a); char *b=malloc(bs); char cmd[48]={0};
  double t0=now();
  for(int i=0;i<n;i++){ send(c,cmd,48,0); size_t g=0; while(g<bs){ssize_t r=recv(c,b+g,bs-g,0); if(r<=0) return 1; g+=r;} }
  double t=now()-t0; printf("bs=%zu n=%d %.1f MB/s %.1f us/rec\n",bs,n,bs*(double)n/t/1e6,t/n*1e6);
  close(c); return 0; }
