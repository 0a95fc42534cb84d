/* A classic BPF interpreter for seccomp programs: the supervisor asks what
 * the sandbox's own policy would answer to a call that chaos diverted to
 * the listener (the diverted call must still obey the policy: a call the
 * policy denies is denied and recorded, never given to chaos). Covers every
 * instruction seccomp accepts (kernel/seccomp.c, seccomp_check_filter). */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>

#include "chaos/chaos.h"

uint32_t al_bpf_run(const struct sock_filter *prog, size_t n, const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};
	size_t pc = 0;

	while (pc < n) {
		const struct sock_filter *f = &prog[pc++];
		uint32_t k = f->k, src;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k > sizeof *d - sizeof(uint32_t) || (k & 3))
				return SECCOMP_RET_KILL_PROCESS;
			memcpy(&A, (const char *)d + k, sizeof A);
			continue;
		case BPF_LD | BPF_W | BPF_LEN:
			A = sizeof *d;
			continue;
		case BPF_LDX | BPF_W | BPF_LEN:
			X = sizeof *d;
			continue;
		case BPF_LD | BPF_IMM:
			A = k;
			continue;
		case BPF_LDX | BPF_IMM:
			X = k;
			continue;
		case BPF_LD | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				return SECCOMP_RET_KILL_PROCESS;
			A = M[k];
			continue;
		case BPF_LDX | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				return SECCOMP_RET_KILL_PROCESS;
			X = M[k];
			continue;
		case BPF_ST:
			if (k >= BPF_MEMWORDS)
				return SECCOMP_RET_KILL_PROCESS;
			M[k] = A;
			continue;
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return SECCOMP_RET_KILL_PROCESS;
			M[k] = X;
			continue;
		case BPF_MISC | BPF_TAX:
			X = A;
			continue;
		case BPF_MISC | BPF_TXA:
			A = X;
			continue;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return A;
		case BPF_JMP | BPF_JA:
			if (k >= n - pc)
				return SECCOMP_RET_KILL_PROCESS;
			pc += k;
			continue;
		default:
			break;
		}
		src = BPF_SRC(f->code) == BPF_X ? X : k;
		if (BPF_CLASS(f->code) == BPF_ALU) {
			/* one operation per line reads as the table it is */
			/* clang-format off */
			switch (BPF_OP(f->code)) {
			case BPF_ADD: A += src; break;
			case BPF_SUB: A -= src; break;
			case BPF_MUL: A *= src; break;
			case BPF_DIV:
				if (src == 0)
					return 0; /* the kernel's answer to a division by zero */
				A /= src;
				break;
			case BPF_MOD:
				if (src == 0)
					return 0;
				A %= src;
				break;
			case BPF_AND: A &= src; break;
			case BPF_OR: A |= src; break;
			case BPF_XOR: A ^= src; break;
			case BPF_LSH: A = src < 32 ? A << src : 0; break;
			case BPF_RSH: A = src < 32 ? A >> src : 0; break;
			case BPF_NEG: A = -A; break;
			default: return SECCOMP_RET_KILL_PROCESS;
			}
			/* clang-format on */
			continue;
		}
		if (BPF_CLASS(f->code) == BPF_JMP) {
			bool t;
			switch (BPF_OP(f->code)) {
			case BPF_JEQ:
				t = A == src;
				break;
			case BPF_JGT:
				t = A > src;
				break;
			case BPF_JGE:
				t = A >= src;
				break;
			case BPF_JSET:
				t = (A & src) != 0;
				break;
			default:
				return SECCOMP_RET_KILL_PROCESS;
			}
			{
				size_t off = t ? f->jt : f->jf;
				if (off >= n - pc)
					return SECCOMP_RET_KILL_PROCESS;
				pc += off;
			}
			continue;
		}
		return SECCOMP_RET_KILL_PROCESS;
	}
	return SECCOMP_RET_KILL_PROCESS; /* ran off the end */
}
