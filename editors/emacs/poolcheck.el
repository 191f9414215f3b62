;;; poolcheck.el --- poolcheck language server with eglot -*- lexical-binding: t; -*-

;; Usage: (load "/path/to/editors/emacs/poolcheck.el") or put it on the
;; load-path and (require 'poolcheck). Needs Emacs 29+ (eglot built in).
;; Then M-x eglot in a Python, INI, conf, TOML, YAML, Dockerfile or shell
;; buffer, or (add-hook 'python-mode-hook #'eglot-ensure).

;;; Code:

(require 'eglot)

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

(defconst poolcheck-modes
  '(python-mode python-ts-mode conf-mode conf-unix-mode conf-space-mode
    toml-ts-mode conf-toml-mode yaml-mode yaml-ts-mode
    dockerfile-mode dockerfile-ts-mode sh-mode bash-ts-mode)
  "Major modes of the files poolcheck reads.")

(add-to-list 'eglot-server-programs
             `(,poolcheck-modes
               . ,(lambda (&rest _)
                    (append (list poolcheck-executable "lsp")
                            (when poolcheck-settings
                              (list :initializationOptions poolcheck-settings))))))

;; Procfile, postgresql.conf and pgbouncer.ini open in a mode eglot knows.
(add-to-list 'auto-mode-alist '("/Procfile\\(\\..*\\)?\\'" . conf-unix-mode))
(add-to-list 'auto-mode-alist '("/postgresql[^/]*\\.conf\\'" . conf-space-mode))
(add-to-list 'auto-mode-alist '("/pgbouncer[^/]*\\.ini\\'" . conf-mode))

(provide 'poolcheck)
;;; poolcheck.el ends here
