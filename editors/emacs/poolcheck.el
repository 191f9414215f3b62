;;; poolcheck.el --- poolcheck language server for lsp-mode and eglot -*- lexical-binding: t; -*-

;; Usage: (load "/path/to/editors/emacs/poolcheck.el") or put it on the
;; load-path and (require 'poolcheck).
;;
;; Eglot runs ONE language server per buffer: a poolcheck entry for
;; `python-mode' in `eglot-server-programs' would replace pyright, pylsp or
;; ruff there.  So this file never claims Python (or TOML, YAML, shell)
;; buffers for eglot.  It offers two setups that keep your own servers:
;;
;; 1. lsp-mode (any file poolcheck reads): poolcheck is registered as an
;;    add-on client (`:add-on? t'), which lsp-mode runs beside the main
;;    server of the buffer.  Nothing to do beyond loading this file and
;;    `lsp' / `lsp-deferred' as usual.
;;
;; 2. eglot (configuration files only): pgbouncer.ini, postgresql.conf and
;;    Procfile open in `poolcheck-pgbouncer-mode', `poolcheck-pgconf-mode'
;;    and `poolcheck-procfile-mode', and eglot runs poolcheck there:
;;      (add-hook 'poolcheck-config-mode-hook #'eglot-ensure)
;;    Python buffers keep their server; poolcheck's findings about them are
;;    also reported from the configuration files that hold the factors.  To
;;    see them in Python buffers under eglot, put a multiplexer that runs
;;    several servers as one (e.g. rassumfrassum or lspx) in
;;    `eglot-server-programs' for Python, with your server and
;;    "poolcheck lsp" behind it.

;;; Code:

(require 'conf-mode)

(declare-function lsp-register-client "lsp-mode")
(declare-function make-lsp-client "lsp-mode")
(declare-function lsp-stdio-connection "lsp-mode")
(declare-function lsp-activate-on "lsp-mode")
(defvar eglot-server-programs)
(defvar lsp-language-id-configuration)

(defgroup poolcheck nil
  "PostgreSQL connection-budget linter."
  :group 'tools)

(defcustom poolcheck-executable "poolcheck"
  "The poolcheck binary."
  :type 'string)

(defcustom poolcheck-settings nil
  "Settings sent as initializationOptions: select, ignore, severity, fail-on.
Example: \\='(:ignore [\"PC5\"] :severity (:PC105 \"error\"))."
  :type 'sexp)

(defun poolcheck--command ()
  "The command line that starts the server."
  (list poolcheck-executable "lsp"))

;;;; Major modes for the configuration files no other mode claims

(defvar poolcheck-config-mode-hook nil
  "Hook run in every poolcheck configuration-file mode.")

;;;###autoload
(define-derived-mode poolcheck-pgbouncer-mode conf-windows-mode "PgBouncer"
  "Major mode for pgbouncer.ini; runs `poolcheck-config-mode-hook'."
  (run-hooks 'poolcheck-config-mode-hook))

;;;###autoload
(define-derived-mode poolcheck-pgconf-mode conf-space-mode "PostgreSQL-conf"
  "Major mode for postgresql.conf; runs `poolcheck-config-mode-hook'."
  (run-hooks 'poolcheck-config-mode-hook))

;;;###autoload
(define-derived-mode poolcheck-procfile-mode conf-unix-mode "Procfile"
  "Major mode for Procfile; runs `poolcheck-config-mode-hook'."
  (run-hooks 'poolcheck-config-mode-hook))

(defconst poolcheck-config-modes
  '(poolcheck-pgbouncer-mode poolcheck-pgconf-mode poolcheck-procfile-mode)
  "The modes eglot may run poolcheck in: no other server claims them.")

;;;###autoload
(progn
  (add-to-list 'auto-mode-alist '("/pgbouncer[^/]*\\.ini\\'" . poolcheck-pgbouncer-mode))
  (add-to-list 'auto-mode-alist '("/postgresql[^/]*\\.conf\\'" . poolcheck-pgconf-mode))
  (add-to-list 'auto-mode-alist '("/Procfile\\(\\..*\\)?\\'" . poolcheck-procfile-mode)))

;;;; eglot: configuration-file buffers only

(defun poolcheck--eglot-contact (&rest _)
  "How eglot starts poolcheck, with `poolcheck-settings'."
  (append (poolcheck--command)
          (when poolcheck-settings
            (list :initializationOptions poolcheck-settings))))

(with-eval-after-load 'eglot
  ;; Appended, so an entry the user already has for these modes wins.
  (add-to-list 'eglot-server-programs
               (cons poolcheck-config-modes #'poolcheck--eglot-contact)
               t))

;;;; lsp-mode: an add-on server beside each buffer's own

(defconst poolcheck-lsp-languages
  '("python" "ini" "toml" "yaml" "dockerfile" "shellscript" "poolcheck-conf")
  "lsp-mode language ids poolcheck joins as an add-on server.")

(with-eval-after-load 'lsp-mode
  (dolist (mode poolcheck-config-modes)
    (add-to-list 'lsp-language-id-configuration (cons mode "poolcheck-conf")))
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection #'poolcheck--command)
    :activation-fn (apply #'lsp-activate-on poolcheck-lsp-languages)
    :initialization-options (lambda () poolcheck-settings)
    :add-on? t
    :priority -1
    :server-id 'poolcheck)))

(provide 'poolcheck)
;;; poolcheck.el ends here
