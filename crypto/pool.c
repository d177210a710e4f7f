/* pool.c: contexts kept for their next use (pool.h). */
#include "pool.h"

void *
cs_pool_take(cs_pool *p, int key)
{
	void *item = NULL;
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (i = p->n; i > 0; i--)
		if (p->keys[i - 1] == key) {
			item = p->items[i - 1];
			p->n--;
			p->items[i - 1] = p->items[p->n];
			p->keys[i - 1] = p->keys[p->n];
			break;
		}
	pthread_mutex_unlock(&p->mu);
	return item;
}

void *
cs_pool_keep(cs_pool *p, int key, void *item)
{
	pthread_mutex_lock(&p->mu);
	if (p->n < CS_POOL_MAX) {
		p->items[p->n] = item;
		p->keys[p->n++] = key;
		item = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return item;
}
